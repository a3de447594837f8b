import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { editFile } from '../../capabilities/edit-file.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import {
  rejection,
  removeWorkspace,
  runTool,
  snapshot,
  tempWorkspace,
  testToolContext,
} from '../support/tool-context.js';

describe('edit_file', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  const source = 'import x from "x";\n\nexport function run() {\n  return x(1);\n}\n';
  const read = (rel: string) => fs.readFileSync(path.join(ws, rel), 'utf8');

  it('replaces the unique occurrence and says where', async () => {
    ws = tempWorkspace({ 'src/run.ts': source });
    const ctx = testToolContext(ws);
    const out = await runTool(editFile, ctx, { path: 'src/run.ts', old_string: 'x(1)', new_string: 'x(2)' });
    expect(out).to.equal(`edited src/run.ts: replaced 1 occurrence at line 4 (${source.length} bytes)`);
    expect(read('src/run.ts')).to.equal(source.replace('x(1)', 'x(2)'));
    expect(ctx.authorizations[0]).to.include({ action: 'modify', rel: 'src/run.ts' });
    expect(ctx.mutations).to.deep.equal(['src/run.ts']);
  });

  it('keeps $ patterns in new_string literal and handles unicode', async () => {
    ws = tempWorkspace({ 'a.txt': 'price: ¤\n🌍 end\n' });
    await runTool(editFile, testToolContext(ws), { path: 'a.txt', old_string: '¤', new_string: "$& $1 $' 💶" });
    expect(read('a.txt')).to.equal("price: $& $1 $' 💶\n🌍 end\n");
  });

  it('can delete text with an empty new_string', async () => {
    ws = tempWorkspace({ 'a.txt': 'keep\ndrop\nkeep too\n' });
    await runTool(editFile, testToolContext(ws), { path: 'a.txt', old_string: 'drop\n', new_string: '' });
    expect(read('a.txt')).to.equal('keep\nkeep too\n');
  });

  it('fails when old_string is missing, repeated, empty or unchanged, writing nothing', async () => {
    ws = tempWorkspace({ 'a.txt': 'aaa\nb b b\n' });
    const before = snapshot(ws);
    const ctx = testToolContext(ws);
    const attempt = (old_string: string, new_string: string) =>
      rejection(runTool(editFile, ctx, { path: 'a.txt', old_string, new_string }));
    const cases: Array<[Error, string]> = [
      [await attempt('zzz', 'y'), 'old_string not found in a.txt'],
      [await attempt('b', 'c'), 'old_string matches 3 times in a.txt; include more context to make it unique'],
      [await attempt('aa', 'c'), 'old_string matches 2 times in a.txt; include more context to make it unique'],
      [await attempt('', 'c'), 'old_string is empty; use write_file to create a file or replace all of it'],
      [await attempt('aaa', 'aaa'), 'old_string and new_string are the same; nothing to change'],
    ];
    for (const [err, message] of cases) {
      expect(err).to.be.instanceOf(ToolFailure);
      expect(err.message).to.equal(message);
    }
    expect(snapshot(ws)).to.deep.equal(before);
  });

  it('fails on a missing file', async () => {
    ws = tempWorkspace();
    const err = await rejection(runTool(editFile, testToolContext(ws), { path: 'nope.ts', old_string: 'a', new_string: 'b' }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('no such file: nope.ts');
  });

  it('matches LF old_string in a CRLF file and keeps CRLF', async () => {
    ws = tempWorkspace({ 'w.txt': 'one\r\ntwo\r\nthree\r\n' });
    await runTool(editFile, testToolContext(ws), { path: 'w.txt', old_string: 'one\ntwo', new_string: 'uno\ndos' });
    expect(read('w.txt')).to.equal('uno\r\ndos\r\nthree\r\n');
  });

  it('refuses files that are not UTF-8 text, and files over the limit', async () => {
    ws = tempWorkspace({ 'l1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), 'big.txt': 'x'.repeat(50) });
    const ctx = testToolContext(ws, { limits: { writeBytes: 40 } });
    const latin = await rejection(runTool(editFile, ctx, { path: 'l1.txt', old_string: 'caf', new_string: 'tea' }));
    expect(latin.message).to.equal('l1.txt is not UTF-8 text; edit_file cannot edit it');
    const big = await rejection(runTool(editFile, ctx, { path: 'big.txt', old_string: 'xxxxx'.repeat(10), new_string: 'y' }));
    expect(big.message).to.equal('big.txt is 50 bytes; edit_file edits files up to 40 bytes');
    expect(read('big.txt')).to.equal('x'.repeat(50));
  });

  it('writes nothing when refused or rejected, after showing a diff', async () => {
    ws = tempWorkspace({ 'src/run.ts': source });
    const before = snapshot(ws);
    const denied = testToolContext(ws, { decide: () => 'deny' });
    const err = await rejection(runTool(editFile, denied, { path: 'src/run.ts', old_string: 'x(1)', new_string: 'y' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    const rejected = testToolContext(ws, { decide: () => 'approve', approve: false });
    await rejection(runTool(editFile, rejected, { path: 'src/run.ts', old_string: 'x(1)', new_string: 'x(2)' }));
    expect(snapshot(ws)).to.deep.equal(before);
    expect(rejected.previews[0]).to.include('-  return x(1);\n+  return x(2);');
    expect(rejected.previews[0]).to.match(/^--- a\/src\/run.ts\n\+\+\+ b\/src\/run.ts\n@@ -1,5 \+1,5 @@/);
  });

  it('previews an edit that cannot apply as such', async () => {
    ws = tempWorkspace({ 'a.txt': 'a\n' });
    const ctx = testToolContext(ws, { decide: () => 'approve', approve: false });
    await rejection(runTool(editFile, ctx, { path: 'a.txt', old_string: 'zzz', new_string: 'b' }));
    expect(ctx.previews[0]).to.equal('a.txt: old_string not found in a.txt (the edit will fail)');
  });

  it('does not follow a symlink planted after the check', async () => {
    ws = tempWorkspace({ 'a.txt': 'token\n' });
    const outside = tempWorkspace({ 'victim.txt': 'token\n' });
    try {
      const ctx = testToolContext(ws, {
        afterAuthorize: (target) => {
          fs.rmSync(target.abs);
          fs.symlinkSync(path.join(outside, 'victim.txt'), target.abs);
        },
      });
      const err = await rejection(runTool(editFile, ctx, { path: 'a.txt', old_string: 'token', new_string: 'pwned' }));
      expect(err).to.be.instanceOf(ToolRefusal);
      expect(fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8')).to.equal('token\n');
    } finally {
      removeWorkspace(outside);
    }
  });
});
