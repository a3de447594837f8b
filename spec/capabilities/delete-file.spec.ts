import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { deleteFile } from '../../capabilities/delete-file.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import {
  rejection,
  removeWorkspace,
  runTool,
  snapshot,
  tempWorkspace,
  testToolContext,
} from '../support/tool-context.js';

describe('delete_file', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  it('deletes a file', async () => {
    ws = tempWorkspace({ 'src/old.ts': 'x', 'src/keep.ts': 'y' });
    const ctx = testToolContext(ws);
    expect(await runTool(deleteFile, ctx, { path: './src/old.ts' })).to.equal('deleted src/old.ts');
    expect(snapshot(ws)).to.deep.equal({ 'src/': '', 'src/keep.ts': 'y' });
    expect(ctx.authorizations[0]).to.include({ action: 'delete', rel: 'src/old.ts' });
    expect(ctx.mutations).to.deep.equal(['src/old.ts']);
  });

  it('fails on a directory and on a missing file', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'x' });
    const ctx = testToolContext(ws);
    const dir = await rejection(runTool(deleteFile, ctx, { path: 'src' }));
    expect(dir).to.be.instanceOf(ToolFailure);
    expect(dir.message).to.equal('src is a directory; delete_file deletes files only');
    const root = await rejection(runTool(deleteFile, ctx, { path: './' }));
    expect(root.message).to.equal('. is a directory; delete_file deletes files only');
    const missing = await rejection(runTool(deleteFile, ctx, { path: 'src/b.ts' }));
    expect(missing.message).to.equal('no such file: src/b.ts');
    expect(snapshot(ws)).to.deep.equal({ 'src/': '', 'src/a.ts': 'x' });
  });

  it('refuses a symlink, and paths through one, deleting neither link nor target', async () => {
    ws = tempWorkspace({ 'real/target.txt': 'keep' });
    fs.symlinkSync(path.join(ws, 'real/target.txt'), path.join(ws, 'link.txt'));
    fs.symlinkSync(path.join(ws, 'real'), path.join(ws, 'alias'));
    const before = snapshot(ws);
    const ctx = testToolContext(ws);
    const link = await rejection(runTool(deleteFile, ctx, { path: 'link.txt' }));
    expect(link).to.be.instanceOf(ToolRefusal);
    expect(link.message).to.equal(
      'link.txt is a symlink or goes through one (real path: real/target.txt); delete_file deletes real paths only',
    );
    const through = await rejection(runTool(deleteFile, ctx, { path: 'alias/target.txt' }));
    expect(through).to.be.instanceOf(ToolRefusal);
    expect(snapshot(ws)).to.deep.equal(before);
    expect(ctx.mutations).to.deep.equal([]);
  });

  it('deletes nothing when refused', async () => {
    ws = tempWorkspace({ '.env': 'S=1' });
    const err = await rejection(runTool(deleteFile, testToolContext(ws, { decide: () => 'deny' }), { path: '.env' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(snapshot(ws)).to.deep.equal({ '.env': 'S=1' });
  });

  it('refuses a symlink planted after the check, leaving its target alone', async () => {
    ws = tempWorkspace({ 'a.txt': 'x', 'precious.txt': 'keep' });
    const ctx = testToolContext(ws, {
      afterAuthorize: (target) => {
        fs.rmSync(target.abs);
        fs.symlinkSync(path.join(ws, 'precious.txt'), target.abs);
      },
    });
    const err = await rejection(runTool(deleteFile, ctx, { path: 'a.txt' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(fs.readFileSync(path.join(ws, 'precious.txt'), 'utf8')).to.equal('keep');
  });
});
