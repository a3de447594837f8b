import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { searchFiles } from '../../capabilities/search-files.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { rejection, removeWorkspace, runTool, tempWorkspace, testToolContext } from '../support/tool-context.js';

describe('search_files', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  const project = () =>
    tempWorkspace({
      'src/a.ts': 'export function alpha() {}\nconst x = 1;\nexport function beta() {}\n',
      'src/b.md': 'function in prose\n',
      'docs/c.md': 'no match here\nfunction docs()\n',
      '.git/config': 'function git()\n',
      'node_modules/m/index.js': 'function dep()\n',
      '.choragen/log': 'function log()\n',
    });

  it('returns path:line: text for every match, files in sorted order', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    const out = await runTool(searchFiles, ctx, { pattern: 'function \\w+\\(' });
    expect(out.split('\n')).to.deep.equal([
      'docs/c.md:2: function docs()',
      'src/a.ts:1: export function alpha() {}',
      'src/a.ts:3: export function beta() {}',
    ]);
    expect(ctx.authorizations[0]).to.include({ path: '.', action: 'read' });
  });

  it('fails on an invalid regular expression, naming the problem', async () => {
    ws = project();
    const err = await rejection(runTool(searchFiles, testToolContext(ws), { pattern: 'foo(' }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.match(/^invalid pattern: .*Unterminated group/);
  });

  it('filters files with a glob (a slash-free glob matches names in any directory)', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    expect(await runTool(searchFiles, ctx, { pattern: 'function', glob: '*.md' })).to.equal(
      'docs/c.md:2: function docs()\nsrc/b.md:1: function in prose',
    );
    expect(await runTool(searchFiles, ctx, { pattern: 'function', glob: 'src/**/*.md' })).to.equal(
      'src/b.md:1: function in prose',
    );
  });

  it('searches under a path, or a single file', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    expect(await runTool(searchFiles, ctx, { pattern: 'function', path: 'docs' })).to.equal('docs/c.md:2: function docs()');
    expect(await runTool(searchFiles, ctx, { pattern: 'beta', path: 'src/a.ts' })).to.equal(
      'src/a.ts:3: export function beta() {}',
    );
  });

  it('says when nothing matched', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    expect(await runTool(searchFiles, ctx, { pattern: 'zebra' })).to.equal('no matches for /zebra/ in .');
    expect(await runTool(searchFiles, ctx, { pattern: 'zebra', path: 'src', glob: '*.ts' })).to.equal(
      'no matches for /zebra/ in src (glob *.ts)',
    );
  });

  it('caps the matches with a note', async () => {
    ws = tempWorkspace({ 'many.txt': 'hit\n'.repeat(50), 'more.txt': 'hit\n' });
    const out = await runTool(searchFiles, testToolContext(ws, { limits: { searchMatches: 5 } }), { pattern: 'hit' });
    const shown = out.split('\n');
    expect(shown).to.have.length(6);
    expect(shown[4]).to.equal('many.txt:5: hit');
    expect(shown[5]).to.equal('[stopped at 5 matches; narrow the pattern, path or glob]');
  });

  it('caps the output bytes with a note', async () => {
    ws = tempWorkspace({ 'many.txt': `${'hit '.repeat(20)}\n`.repeat(200) });
    const out = await runTool(searchFiles, testToolContext(ws, { limits: { outputBytes: 2048 } }), { pattern: 'hit' });
    expect(Buffer.byteLength(out)).to.be.at.most(2048);
    expect(out.split('\n').pop()).to.match(/^\[stopped after \d+ matches: output capped at 2048 bytes/);
  });

  it('skips binary files, symlinks and unreadable paths', async () => {
    ws = tempWorkspace({
      'bin.dat': Buffer.concat([Buffer.from('needle'), Buffer.from([0, 1, 2])]),
      'text.txt': 'needle\n',
      'secret/.env': 'needle\n',
    });
    const outside = tempWorkspace({ 'loot.txt': 'needle\n' });
    try {
      fs.symlinkSync(outside, path.join(ws, 'out-dir'));
      fs.symlinkSync(path.join(outside, 'loot.txt'), path.join(ws, 'out-file.txt'));
      fs.symlinkSync(path.join(ws, 'text.txt'), path.join(ws, 'inner-link.txt'));
      const ctx = testToolContext(ws, { canRead: (rel) => !rel.endsWith('.env') });
      expect(await runTool(searchFiles, ctx, { pattern: 'needle' })).to.equal('text.txt:1: needle');
    } finally {
      removeWorkspace(outside);
    }
  });

  it('cuts long lines, searches only their start, and says so', async () => {
    ws = tempWorkspace({ 'min.js': `${'a'.repeat(30)}needle\n${'b'.repeat(5)}needle${'c'.repeat(30)}\n` });
    const out = await runTool(searchFiles, testToolContext(ws, { limits: { lineLength: 20 } }), { pattern: 'needle' });
    expect(out.split('\n')).to.deep.equal([
      `min.js:2: bbbbbneedle${'c'.repeat(9)} … [line cut: 21 more characters]`,
      '[2 lines longer than 20 characters: only their start was searched]',
    ]);
  });

  it('bounds a catastrophic pattern by the searched line length', async () => {
    // Exponential in the line length: hopeless on 5000 characters, instant on 18.
    ws = tempWorkspace({ 'evil.txt': `${'a'.repeat(5000)}!\n` });
    const out = await runTool(searchFiles, testToolContext(ws, { limits: { lineLength: 18 } }), { pattern: '^(a+)+b' });
    expect(out).to.match(/^no matches for/);
  });

  it('stops a backtracking regex at the deadline, off the event loop, and keeps what it found before (issue 15, class 2)', async () => {
    ws = tempWorkspace({ 'a-first.txt': 'aaaa\nbaab\n', 'b-evil.txt': `aa\n${'a'.repeat(1990)}b\nlast aaa\n` });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const out = await runTool(searchFiles, testToolContext(ws), { pattern: '(a+)+$' });
      expect(out.split('\n')).to.deep.equal([
        'a-first.txt:1: aaaa',
        'b-evil.txt:1: aa',
        '[search stopped: the pattern or glob took over 1 s on one batch (it backtracks); the matches before that are shown; simplify it]',
      ]);
      // The broker's thread kept turning while the pattern ran.
      expect(ticks).to.be.greaterThan(10);
    } finally {
      clearInterval(ticker);
    }
  });

  it('stops a backtracking glob at the deadline', async () => {
    ws = tempWorkspace({ [`${'a'.repeat(200)}`]: 'long name\n', 'b.txt': 'long\n' });
    const out = await runTool(searchFiles, testToolContext(ws), { pattern: 'long', glob: `${'*a'.repeat(14)}c` });
    expect(out).to.match(/^no matches for \/long\/ in \. \(glob .*\)\n\[search stopped: the pattern or glob took over 1 s/);
  });

  it('queues many searches on a few workers: each one still ends, stuck ones with a note (issue 15)', async () => {
    ws = tempWorkspace({ 'a.txt': 'hello\n', 'evil.txt': `${'a'.repeat(1990)}b\n` });
    const ctx = testToolContext(ws);
    const outs = await Promise.all(Array.from({ length: 12 }, (_, i) => runTool(searchFiles, ctx, { pattern: i % 3 === 0 ? '(a+)+$' : 'hello' })));
    outs.forEach((out, i) => {
      if (i % 3 === 0) expect(out, `search ${i}`).to.match(/search stopped: the pattern or glob took over 1 s/);
      else expect(out, `search ${i}`).to.equal('a.txt:1: hello');
    });
  });

  it('ends a running search when the call is aborted (Ctrl-C, session timeout)', async () => {
    ws = tempWorkspace({ 'evil.txt': `${'a'.repeat(1990)}b\n` });
    const controller = new AbortController();
    const search = runTool(searchFiles, testToolContext(ws, { signal: controller.signal }), { pattern: '(a+)+$' });
    setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 100);
    expect((await rejection(search)).message).to.equal('interrupted by SIGINT');
  });

  it('finds unicode text', async () => {
    ws = tempWorkspace({ 'u.txt': 'plain\nhéllo 🌍\n' });
    expect(await runTool(searchFiles, testToolContext(ws), { pattern: '🌍' })).to.equal('u.txt:2: héllo 🌍');
  });

  it('fails on an invalid glob and a missing path', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    const glob = await rejection(runTool(searchFiles, ctx, { pattern: 'x', glob: '' }));
    expect(glob).to.be.instanceOf(ToolFailure);
    expect(glob.message).to.match(/^invalid glob ""/);
    const missing = await rejection(runTool(searchFiles, ctx, { pattern: 'x', path: 'nope' }));
    expect(missing.message).to.equal('no such file or directory: nope');
  });

  it('searches nothing when the root is refused', async () => {
    ws = project();
    const err = await rejection(runTool(searchFiles, testToolContext(ws, { decide: () => 'deny' }), { pattern: 'function' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(err.message).to.not.include('alpha');
  });
});
