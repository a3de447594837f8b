import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import git from 'isomorphic-git';
import { gitStatus, porcelainCodes } from '../../capabilities/git-status.js';
import { gitDiff, fileDiff } from '../../capabilities/git-diff.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { rejection, removeWorkspace, runTool, tempWorkspace, testToolContext } from '../support/tool-context.js';
import { committedRepo, realGit } from '../support/git-repo.js';


describe('git tools', () => {
  let ws = '';
  afterEach(() => {
    if (ws) removeWorkspace(ws);
    ws = '';
  });

  it('turns status matrix rows into porcelain codes', () => {
    const cases: Array<[number, number, number, string[]]> = [
      [1, 1, 1, []],
      [0, 2, 0, ['??']],
      [0, 2, 2, ['A ']],
      [0, 2, 3, ['AM']],
      [0, 0, 3, ['AD']],
      [1, 2, 1, [' M']],
      [1, 2, 2, ['M ']],
      [1, 2, 3, ['MM']],
      [1, 1, 3, ['MM']],
      [1, 0, 1, [' D']],
      [1, 0, 0, ['D ']],
      [1, 1, 0, ['D ', '??']],
      [1, 0, 3, ['MD']],
    ];
    for (const [h, w, s, codes] of cases) expect(porcelainCodes(h, w, s), `${h}${w}${s}`).to.deep.equal(codes);
  });

  it('git_status lists changes like git status --porcelain, without touching the index', async () => {
    ws = await committedRepo({ 'a.txt': 'one\n', 'b.txt': 'two\n', 'src/c.ts': 'c\n', 'keep.txt': 'k\n' });
    fs.writeFileSync(path.join(ws, 'a.txt'), 'one changed\n');
    fs.rmSync(path.join(ws, 'b.txt'));
    fs.writeFileSync(path.join(ws, 'new.txt'), 'new\n');
    fs.writeFileSync(path.join(ws, 'staged.txt'), 'staged\n');
    await git.add({ fs, dir: ws, filepath: 'staged.txt' });
    fs.mkdirSync(path.join(ws, '.choragen'));
    fs.writeFileSync(path.join(ws, '.choragen/metrics.duckdb'), 'x');
    const index = fs.readFileSync(path.join(ws, '.git/index'));

    const out = await runTool(gitStatus, testToolContext(ws), {});
    expect(out.split('\n')).to.deep.equal(['## main', ' M a.txt', ' D b.txt', '?? new.txt', 'A  staged.txt']);
    expect(fs.readFileSync(path.join(ws, '.git/index')).equals(index)).to.equal(true);

    // The real git agrees (it runs last: git status may refresh the index itself).
    const real = realGit(ws, 'status', '--porcelain', '--untracked-files=all').split('\n').filter((l) => l && !l.includes('.choragen'));
    expect(real.sort()).to.deep.equal(out.split('\n').slice(1).sort());
  });

  it('git_status narrows to a path (authorized for read) and leaves out unreadable files', async () => {
    ws = await committedRepo({ 'src/a.ts': 'a\n', 'docs/x.md': 'x\n', '.env': 'A=1\n' });
    fs.writeFileSync(path.join(ws, 'src/a.ts'), 'a2\n');
    fs.writeFileSync(path.join(ws, 'docs/x.md'), 'x2\n');
    fs.writeFileSync(path.join(ws, '.env'), 'A=2\n');
    const ctx = testToolContext(ws, { canRead: (rel) => rel !== '.env' });
    expect(await runTool(gitStatus, ctx, { path: 'src' })).to.equal('## main\n M src/a.ts');
    expect(ctx.authorizations).to.deep.equal([{ path: 'src', action: 'read', rel: 'src', decision: 'allow' }]);
    expect(await runTool(gitStatus, ctx, {})).to.equal('## main\n M docs/x.md\n M src/a.ts');
    expect(await runTool(gitStatus, ctx, { path: 'docs/x.md' })).to.equal('## main\n M docs/x.md');
    fs.writeFileSync(path.join(ws, 'docs/x.md'), 'x\n');
    expect(await runTool(gitStatus, ctx, { path: 'docs' })).to.equal('## main\n[no changes under docs]');
    const denied = await rejection(runTool(gitStatus, testToolContext(ws, { decide: () => 'deny' }), { path: 'src' }));
    expect(denied).to.be.instanceOf(ToolRefusal);
  });

  it('git_status works from a workspace inside a repository, showing workspace-relative paths', async () => {
    ws = await committedRepo({ 'app/src/a.ts': 'a\n', 'other/b.ts': 'b\n' });
    fs.writeFileSync(path.join(ws, 'app/src/a.ts'), 'a2\n');
    fs.writeFileSync(path.join(ws, 'other/b.ts'), 'b2\n');
    const out = await runTool(gitStatus, testToolContext(path.join(ws, 'app')), {});
    expect(out).to.equal('## main\n M src/a.ts');
  });

  it('says when the workspace is not a git repository', async () => {
    ws = tempWorkspace({ 'a.txt': 'a' });
    for (const tool of [gitStatus, gitDiff]) {
      const err = await rejection(runTool(tool, testToolContext(ws), {}));
      expect(err).to.be.instanceOf(ToolFailure);
      expect(err.message).to.equal('the workspace is not a git repository');
    }
  });

  it('quotes a changed file whose name holds a line break, in git_status and in git_diff, as git does', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n' });
    fs.writeFileSync(path.join(ws, 'b\n?? forged.txt'), 'new\n');
    const status = await runTool(gitStatus, testToolContext(ws), {});
    expect(status.split('\n')).to.deep.equal(['## main', '?? "b\\n?? forged.txt"']);
    const diff = await runTool(gitDiff, testToolContext(ws), {});
    expect(diff.split('\n')[0]).to.equal('diff --git "a/b\\n?? forged.txt" "b/b\\n?? forged.txt"');
    expect(diff).to.include('+++ "b/b\\n?? forged.txt"').and.not.include('\n?? forged.txt\n');
  });

  it('git_status caps the list with a note', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n' });
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(ws, `f${String(i).padStart(2, '0')}.txt`), 'x');
    const out = await runTool(gitStatus, testToolContext(ws, { limits: { listEntries: 10 } }), {});
    const lines = out.split('\n');
    expect(lines).to.have.length(12);
    expect(lines[10]).to.equal('?? f09.txt');
    expect(lines[11]).to.equal('[20 more lines not shown; give a path to narrow it down]');
  });

  it('git_diff shows modified, new, untracked and deleted files against HEAD', async () => {
    ws = await committedRepo({ 'a.txt': 'one\ntwo\nthree\n', 'gone.txt': 'bye\n', 'same.txt': 's\n' });
    fs.writeFileSync(path.join(ws, 'a.txt'), 'one\nTWO\nthree\n');
    fs.rmSync(path.join(ws, 'gone.txt'));
    fs.writeFileSync(path.join(ws, 'new.txt'), 'hello\n');
    const index = fs.readFileSync(path.join(ws, '.git/index'));
    const out = await runTool(gitDiff, testToolContext(ws), {});
    expect(out).to.equal(
      [
        'diff --git a/a.txt b/a.txt',
        '--- a/a.txt',
        '+++ b/a.txt',
        '@@ -1,3 +1,3 @@',
        ' one',
        '-two',
        '+TWO',
        ' three',
        'diff --git a/gone.txt b/gone.txt',
        'deleted file',
        '--- a/gone.txt',
        '+++ /dev/null',
        '@@ -1,1 +0,0 @@',
        '-bye',
        'diff --git a/new.txt b/new.txt',
        'new file',
        '--- /dev/null',
        '+++ b/new.txt',
        '@@ -0,0 +1,1 @@',
        '+hello',
      ].join('\n'),
    );
    expect(fs.readFileSync(path.join(ws, '.git/index')).equals(index)).to.equal(true);
    // The same hunks as the real git.
    const real = realGit(ws, 'diff', 'HEAD', '--', 'a.txt');
    expect(real).to.contain('@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n');
  });

  it('git_diff narrows to a path, skips unreadable files, and names binary files only', async () => {
    ws = await committedRepo({ 'src/a.ts': 'a\n', 'secret.key': 'k1\n', 'img.bin': 'x' });
    fs.writeFileSync(path.join(ws, 'src/a.ts'), 'b\n');
    fs.writeFileSync(path.join(ws, 'secret.key'), 'k2\n');
    fs.writeFileSync(path.join(ws, 'img.bin'), Buffer.from([0, 1, 2, 0]));
    const ctx = testToolContext(ws, { canRead: (rel) => !rel.endsWith('.key') });
    const all = await runTool(gitDiff, ctx, {});
    expect(all).to.not.contain('secret').and.not.contain('k2');
    expect(all).to.contain('Binary files a/img.bin and b/img.bin differ');
    expect(await runTool(gitDiff, ctx, { path: 'src' })).to.equal('diff --git a/src/a.ts b/src/a.ts\n--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,1 +1,1 @@\n-a\n+b');
    expect(await runTool(gitDiff, ctx, { path: 'secret.key' })).to.equal('[no changes under secret.key against HEAD]');
  });

  it('git_diff shows a symlink as its target and never follows it', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n' });
    const outside = tempWorkspace({ 'host.txt': 'HOST SECRET\n' });
    try {
      fs.symlinkSync(path.join(outside, 'host.txt'), path.join(ws, 'link'));
      const out = await runTool(gitDiff, testToolContext(ws), {});
      expect(out).to.not.contain('HOST SECRET');
      expect(out).to.contain('diff --git a/link b/link');
    } finally {
      removeWorkspace(outside);
    }
  });

  it('git_diff caps the output and names the files it left out', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n' });
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(ws, `f${i}.txt`), 'line of text\n'.repeat(100));
    const out = await runTool(gitDiff, testToolContext(ws, { limits: { outputBytes: 2000 } }), {});
    expect(Buffer.byteLength(out)).to.be.below(2000);
    expect(out).to.match(/\[output capped at 2000 bytes; 4 files not shown in full: f1\.txt, f2\.txt, f3\.txt, f4\.txt; call git_diff with path for one file\]$/);
  });

  it('renders one file diff for the edge cases', () => {
    expect(fileDiff('x', { kind: 'text', text: 'a\n' }, { kind: 'text', text: 'a\n' })).to.deep.equal([]);
    expect(fileDiff('x', { kind: 'absent' }, { kind: 'text', text: '' })).to.deep.equal(['diff --git a/x b/x', 'new file']);
    expect(fileDiff('x', { kind: 'text', text: 'a' }, { kind: 'large', bytes: 5_000_000 })[1]).to.contain('not diffed');
  });
});
