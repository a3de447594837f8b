import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { WHOLE_READ_MAX_BYTES, readFile } from '../../capabilities/read-file.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import { rejection, removeWorkspace, runTool, tempWorkspace, testToolContext } from '../support/tool-context.js';

describe('read_file', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  const lines = (count: number): string => Array.from({ length: count }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

  it('returns numbered lines and notes the version it read', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'const a = 1;\n\nexport { a };\n' });
    const ctx = testToolContext(ws);
    const out = await runTool(readFile, ctx, { path: 'src/a.ts' });
    expect(out).to.equal('1\tconst a = 1;\n2\t\n3\texport { a };');
    expect(ctx.authorizations).to.deep.equal([{ path: 'src/a.ts', action: 'read', rel: 'src/a.ts', decision: 'allow' }]);
    expect(ctx.observations).to.deep.equal(['src/a.ts']);
  });

  it('counts a last line without a newline and strips CRLF endings', async () => {
    ws = tempWorkspace({ 'a.txt': 'one\r\ntwo' });
    expect(await runTool(readFile, testToolContext(ws), { path: 'a.txt' })).to.equal('1\tone\n2\ttwo');
  });

  it('shows a window and says how to read the rest', async () => {
    ws = tempWorkspace({ 'a.txt': lines(10) });
    const out = await runTool(readFile, testToolContext(ws), { path: 'a.txt', offset: 2, limit: 2 });
    expect(out).to.equal('2\tline 2\n3\tline 3\n[lines 4-10 of 10 not shown; call read_file with offset=4]');
  });

  it('uses the readLines limit by default', async () => {
    ws = tempWorkspace({ 'a.txt': lines(5000) });
    const out = await runTool(readFile, testToolContext(ws, { limits: { readLines: 2000 } }), { path: 'a.txt' });
    const shown = out.split('\n');
    expect(shown).to.have.length(2001);
    expect(shown[1999]).to.equal('2000\tline 2000');
    expect(shown[2000]).to.equal('[lines 2001-5000 of 5000 not shown; call read_file with offset=2001]');
  });

  it('has no note when the window reaches the end', async () => {
    ws = tempWorkspace({ 'a.txt': lines(3) });
    const out = await runTool(readFile, testToolContext(ws), { path: 'a.txt', offset: 3 });
    expect(out).to.equal('3\tline 3');
  });

  it('refuses an offset past the end', async () => {
    ws = tempWorkspace({ 'a.txt': lines(3) });
    const err = await rejection(runTool(readFile, testToolContext(ws), { path: 'a.txt', offset: 9 }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('offset 9 is past the end of a.txt (3 lines)');
  });

  it('cuts long lines with a marker, including lines longer than a read chunk', async () => {
    const huge = 'x'.repeat(200_000);
    ws = tempWorkspace({ 'min.js': `short\n${'y'.repeat(30)}\n${huge}\nend\n` });
    const out = await runTool(readFile, testToolContext(ws, { limits: { lineLength: 10 } }), { path: 'min.js' });
    expect(out.split('\n')).to.deep.equal([
      '1\tshort',
      `2\t${'y'.repeat(10)} … [line cut: 20 more characters]`,
      `3\t${'x'.repeat(10)} … [line cut: 199990 more characters]`,
      '4\tend',
      '[2 lines cut at 10 characters]',
    ]);
  });

  it('caps the output bytes and points at the next offset', async () => {
    ws = tempWorkspace({ 'a.txt': lines(1000) });
    const out = await runTool(readFile, testToolContext(ws, { limits: { outputBytes: 2048 } }), { path: 'a.txt' });
    expect(Buffer.byteLength(out)).to.be.at.most(2048);
    const note = out.split('\n').pop()!;
    const next = Number(/offset=(\d+)/.exec(note)![1]);
    expect(note).to.equal(
      `[lines ${next}-1000 of 1000 not shown (output capped at 2048 bytes); call read_file with offset=${next}]`,
    );
    expect(out).to.include(`${next - 1}\tline ${next - 1}\n`);
  });

  it('says so for an empty file', async () => {
    ws = tempWorkspace({ 'empty.txt': '' });
    expect(await runTool(readFile, testToolContext(ws), { path: 'empty.txt' })).to.equal('empty.txt: (empty file)');
  });

  it('reports binary files instead of dumping them', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const latin = Buffer.from(Array.from({ length: 400 }, (_, i) => 0x80 + (i % 0x7f)));
    ws = tempWorkspace({ 'logo.png': png, 'noise.bin': latin });
    const ctx = testToolContext(ws);
    expect(await runTool(readFile, ctx, { path: 'logo.png' })).to.equal('logo.png: binary file, 12 bytes (not shown)');
    expect(await runTool(readFile, ctx, { path: 'noise.bin' })).to.equal('noise.bin: binary file, 400 bytes (not shown)');
  });

  it('reads unicode, even across read chunks', async () => {
    // 65535 ASCII bytes put the 4-byte emoji across the first 64 KiB chunk boundary.
    const first = 'a'.repeat(65_535);
    ws = tempWorkspace({ 'u.txt': `${first}\nhéllo 🌍 wörld\n`, 'v.txt': `${'b'.repeat(65_534)}🌍\nnext\n` });
    const ctx = testToolContext(ws);
    expect(await runTool(readFile, ctx, { path: 'u.txt', offset: 2 })).to.equal('2\théllo 🌍 wörld');
    const out = await runTool(readFile, testToolContext(ws, { limits: { lineLength: 70_000 } }), { path: 'v.txt' });
    expect(out).to.equal(`1\t${'b'.repeat(65_534)}🌍\n2\tnext`);
  });

  it('does not split a surrogate pair when cutting', async () => {
    ws = tempWorkspace({ 'e.txt': '🌍🌍🌍\n' });
    const out = await runTool(readFile, testToolContext(ws, { limits: { lineLength: 3 } }), { path: 'e.txt' });
    expect(out.split('\n')[0]).to.equal('1\t🌍 … [line cut: 4 more characters]');
  });

  it('fails on a missing file and on a directory', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'x' });
    const ctx = testToolContext(ws);
    const missing = await rejection(runTool(readFile, ctx, { path: 'src/b.ts' }));
    expect(missing).to.be.instanceOf(ToolFailure);
    expect(missing.message).to.equal('no such file: src/b.ts');
    const dir = await rejection(runTool(readFile, ctx, { path: 'src' }));
    expect(dir).to.be.instanceOf(ToolFailure);
    expect(dir.message).to.include('src is a directory').and.include('list_files');
  });

  it('reads nothing when the path is refused', async () => {
    ws = tempWorkspace({ '.env': 'SECRET=1' });
    const ctx = testToolContext(ws, { decide: () => 'deny' });
    const err = await rejection(runTool(readFile, ctx, { path: '.env' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(err.message).to.not.include('SECRET');
    expect(ctx.observations).to.deep.equal([]);
  });

  it('notes the version from the handle it read, without a second stat', async () => {
    ws = tempWorkspace({ 'a.txt': 'one\n' });
    const ctx = testToolContext(ws);
    await runTool(readFile, ctx, { path: 'a.txt' });
    const seen = fs.statSync(path.join(ws, 'a.txt'), { bigint: true });
    expect(ctx.observedStats).to.have.length(1);
    expect(ctx.observedStats[0]).to.include({ ino: seen.ino, size: seen.size, mtimeNs: seen.mtimeNs });
  });

  it('streams a file above the in-memory size with the same window, cuts and notes', async () => {
    const pad = `${'p'.repeat(99)}\n`; // 100 bytes a line
    const count = Math.ceil(WHOLE_READ_MAX_BYTES / pad.length) + 10;
    const text = `short\r\n${'x'.repeat(30)}\n${pad.repeat(count)}last`;
    ws = tempWorkspace({ 'big.txt': text, 'small.txt': text.slice(0, 10_000) });
    expect(fs.statSync(path.join(ws, 'big.txt')).size).to.be.above(WHOLE_READ_MAX_BYTES);
    const limits = { lineLength: 10, readLines: 4 };
    const big = await runTool(readFile, testToolContext(ws, { limits }), { path: 'big.txt' });
    const small = await runTool(readFile, testToolContext(ws, { limits }), { path: 'small.txt' });
    const total = count + 3;
    expect(big).to.equal(
      small.replace(/of \d+ not shown/, `of ${total} not shown`).replace(/lines 5-\d+/, `lines 5-${total}`),
    );
    expect(big.split('\n')).to.deep.equal([
      '1\tshort',
      `2\t${'x'.repeat(10)} … [line cut: 20 more characters]`,
      `3\t${'p'.repeat(10)} … [line cut: 89 more characters]`,
      `4\t${'p'.repeat(10)} … [line cut: 89 more characters]`,
      '[3 lines cut at 10 characters]',
      `[lines 5-${total} of ${total} not shown; call read_file with offset=5]`,
    ]);
    expect(await runTool(readFile, testToolContext(ws), { path: 'big.txt', offset: total })).to.equal(`${total}\tlast`);
  });

  it('does not follow a symlink planted after the check', async () => {
    ws = tempWorkspace({ 'a.txt': 'fine' });
    const outside = tempWorkspace({ 'secret.txt': 'TOP SECRET' });
    try {
      const ctx = testToolContext(ws, {
        afterAuthorize: (target) => {
          fs.rmSync(target.abs);
          fs.symlinkSync(path.join(outside, 'secret.txt'), target.abs);
        },
      });
      const err = await rejection(runTool(readFile, ctx, { path: 'a.txt' }));
      expect(err).to.be.instanceOf(ToolRefusal);
      expect(err.message).to.equal('a.txt is a symlink; it is not followed');
    } finally {
      removeWorkspace(outside);
    }
  });
});
