import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { listFiles } from '../../capabilities/list-files.js';
import { searchFiles } from '../../capabilities/search-files.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { rejection, removeWorkspace, runTool, tempWorkspace, testToolContext } from '../support/tool-context.js';

describe('list_files', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  const project = () =>
    tempWorkspace({
      'README.md': '# hi',
      'src/index.ts': '',
      'src/lib/util.ts': '',
      'src-extra.ts': '',
      '.env': 'SECRET=1',
      '.git/HEAD': 'ref: refs/heads/main',
      'node_modules/x/index.js': '',
      '.choragen/audit/log.jsonl': '',
      'docs/guide.md': '',
    });

  it('lists the root, sorted, directories with a slash, tool trees left out', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    const out = await runTool(listFiles, ctx, {});
    expect(out.split('\n')).to.deep.equal(['.env', 'README.md', 'docs/', 'src/', 'src-extra.ts']);
    expect(ctx.authorizations[0]).to.include({ path: '.', action: 'read' });
  });

  it('quotes a name holding a line break or an escape, so it cannot pass for another entry', async () => {
    ws = tempWorkspace({ 'src/a.ts': '' });
    fs.writeFileSync(path.join(ws, 'src', 'x\nforged.ts'), 'needle\n');
    fs.writeFileSync(path.join(ws, 'src', 'y\u001b[2Jz'), '');
    const out = await runTool(listFiles, testToolContext(ws), { path: 'src' });
    expect(out.split('\n')).to.deep.equal(['src/a.ts', '"src/x\\nforged.ts"', '"src/y\\u001b[2Jz"']);
    const found = await runTool(searchFiles, testToolContext(ws), { pattern: 'needle' });
    expect(found.split('\n')).to.deep.equal(['"src/x\\nforged.ts":1: needle']);
  });

  it('lists recursively, depth first', async () => {
    ws = project();
    const out = await runTool(listFiles, testToolContext(ws), { recursive: true });
    expect(out.split('\n')).to.deep.equal([
      '.env',
      'README.md',
      'docs/',
      'docs/guide.md',
      'src/',
      'src/index.ts',
      'src/lib/',
      'src/lib/util.ts',
      'src-extra.ts',
    ]);
  });

  it('lists a subdirectory with workspace-relative paths', async () => {
    ws = project();
    expect(await runTool(listFiles, testToolContext(ws), { path: './src/' })).to.equal('src/index.ts\nsrc/lib/');
  });

  it('hides entries the session may not read, without naming them', async () => {
    ws = project();
    const ctx = testToolContext(ws, { canRead: (rel) => !rel.startsWith('.env') && !rel.startsWith('src/lib') });
    const out = await runTool(listFiles, ctx, { recursive: true });
    expect(out).to.not.include('.env');
    expect(out).to.not.include('lib');
    expect(out).to.include('src/index.ts');
  });

  it('shows symlinks with @ and never descends into them', async () => {
    ws = tempWorkspace({ 'a.txt': '' });
    const outside = tempWorkspace({ 'hidden/secret.txt': 'x' });
    try {
      fs.symlinkSync(outside, path.join(ws, 'out'));
      fs.symlinkSync(path.join(ws, 'a.txt'), path.join(ws, 'link.txt'));
      const out = await runTool(listFiles, testToolContext(ws), { recursive: true });
      expect(out).to.equal('a.txt\nlink.txt@\nout@');
    } finally {
      removeWorkspace(outside);
    }
  });

  it('caps the number of entries with a note', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i += 1) files[`f${String(i).padStart(2, '0')}.txt`] = '';
    ws = tempWorkspace(files);
    const out = await runTool(listFiles, testToolContext(ws, { limits: { listEntries: 10 } }), {});
    const shown = out.split('\n');
    expect(shown).to.have.length(11);
    expect(shown[9]).to.equal('f09.txt');
    expect(shown[10]).to.equal(
      '[listing stopped after 10 entries (at most 10 entries); use search_files with a glob to find specific files]',
    );
    const recursive = await runTool(listFiles, testToolContext(ws, { limits: { listEntries: 10 } }), { recursive: true });
    expect(recursive.split('\n').pop()).to.include('list a subdirectory, or call without recursive');
  });

  it('caps the output bytes', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i += 1) files[`${'n'.repeat(40)}${i}.txt`] = '';
    ws = tempWorkspace(files);
    const out = await runTool(listFiles, testToolContext(ws, { limits: { outputBytes: 2048 } }), {});
    expect(Buffer.byteLength(out)).to.be.at.most(2048);
    expect(out.split('\n').pop()).to.match(/^\[listing stopped after \d+ entries \(output capped at 2048 bytes\)/);
  });

  it('says so for an empty directory', async () => {
    ws = tempWorkspace();
    fs.mkdirSync(path.join(ws, 'empty'));
    expect(await runTool(listFiles, testToolContext(ws), { path: 'empty' })).to.equal('empty: (empty directory)');
    fs.rmSync(path.join(ws, 'empty'), { recursive: true });
    expect(await runTool(listFiles, testToolContext(ws), {})).to.equal('.: (empty directory)');
  });

  it('fails on a missing directory and on a file', async () => {
    ws = project();
    const ctx = testToolContext(ws);
    const missing = await rejection(runTool(listFiles, ctx, { path: 'nope' }));
    expect(missing).to.be.instanceOf(ToolFailure);
    expect(missing.message).to.equal('no such directory: nope');
    const file = await rejection(runTool(listFiles, ctx, { path: 'README.md' }));
    expect(file).to.be.instanceOf(ToolFailure);
    expect(file.message).to.equal('README.md is a file; use read_file to read it');
  });

  it('lists nothing when the directory is refused', async () => {
    ws = project();
    const err = await rejection(runTool(listFiles, testToolContext(ws, { decide: () => 'deny' }), { path: 'src' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(err.message).to.not.include('index.ts');
  });
});
