import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { moveFile } from '../../capabilities/move-file.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import {
  rejection,
  removeWorkspace,
  runTool,
  snapshot,
  tempWorkspace,
  testToolContext,
} from '../support/tool-context.js';

describe('move_file', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  it('moves a file, creating parents, governed as move + create', async () => {
    ws = tempWorkspace({ 'src/old.ts': 'x' });
    const ctx = testToolContext(ws);
    expect(await runTool(moveFile, ctx, { from: 'src/old.ts', to: 'lib/new/place.ts' })).to.equal(
      'moved src/old.ts to lib/new/place.ts',
    );
    expect(snapshot(ws)).to.deep.equal({ 'lib/': '', 'lib/new/': '', 'lib/new/place.ts': 'x', 'src/': '' });
    expect(ctx.authorizations.map((a) => [a.rel, a.action])).to.deep.equal([
      ['src/old.ts', 'move'],
      ['lib/new/place.ts', 'create'],
    ]);
    // Both ends locked, in path order.
    expect(ctx.mutations).to.deep.equal(['lib/new/place.ts', 'src/old.ts']);
  });

  it('never overwrites', async () => {
    ws = tempWorkspace({ 'a.txt': 'a', 'b.txt': 'b' });
    const err = await rejection(runTool(moveFile, testToolContext(ws), { from: 'a.txt', to: 'b.txt' }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('b.txt already exists; move_file does not overwrite');
    expect(snapshot(ws)).to.deep.equal({ 'a.txt': 'a', 'b.txt': 'b' });
  });

  it('does not overwrite a file that appeared after the check', async () => {
    ws = tempWorkspace({ 'a.txt': 'a' });
    const ctx = testToolContext(ws, {
      afterAuthorize: (target) => {
        if (target.rel === 'b.txt') fs.writeFileSync(target.abs, 'theirs');
      },
    });
    const err = await rejection(runTool(moveFile, ctx, { from: 'a.txt', to: 'b.txt' }));
    expect(err.message).to.equal('b.txt already exists; move_file does not overwrite');
    expect(snapshot(ws)).to.deep.equal({ 'a.txt': 'a', 'b.txt': 'theirs' });
  });

  it('fails on a missing source, a directory, and the same path', async () => {
    ws = tempWorkspace({ 'dir/x.txt': 'x' });
    const ctx = testToolContext(ws);
    expect((await rejection(runTool(moveFile, ctx, { from: 'nope', to: 'b' }))).message).to.equal('no such file: nope');
    expect((await rejection(runTool(moveFile, ctx, { from: 'dir', to: 'dir2' }))).message).to.equal(
      'dir is a directory; move_file moves files only',
    );
    const same = await rejection(runTool(moveFile, ctx, { from: 'dir/x.txt', to: './dir/x.txt' }));
    expect(same).to.be.instanceOf(ToolFailure);
    expect(snapshot(ws)).to.deep.equal({ 'dir/': '', 'dir/x.txt': 'x' });
  });

  it('moves nothing when either end is refused', async () => {
    ws = tempWorkspace({ 'a.txt': 'a' });
    const toDenied = testToolContext(ws, { decide: (_rel, action) => (action === 'create' ? 'deny' : 'allow') });
    expect(await rejection(runTool(moveFile, toDenied, { from: 'a.txt', to: '.env' }))).to.be.instanceOf(ToolRefusal);
    const fromDenied = testToolContext(ws, { decide: (_rel, action) => (action === 'move' ? 'deny' : 'allow') });
    expect(await rejection(runTool(moveFile, fromDenied, { from: 'a.txt', to: 'b.txt' }))).to.be.instanceOf(ToolRefusal);
    expect(snapshot(ws)).to.deep.equal({ 'a.txt': 'a' });
    expect([...toDenied.mutations, ...fromDenied.mutations]).to.deep.equal([]);
  });

  it('refuses to move a symlink', async () => {
    ws = tempWorkspace({ 'target.txt': 't' });
    fs.symlinkSync(path.join(ws, 'target.txt'), path.join(ws, 'link.txt'));
    const before = snapshot(ws);
    const err = await rejection(runTool(moveFile, testToolContext(ws), { from: 'link.txt', to: 'moved.txt' }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(err.message).to.include('real path: target.txt');
    expect(snapshot(ws)).to.deep.equal(before);
  });

  it('refuses a destination parent that became a symlink after the check', async () => {
    ws = tempWorkspace({ 'a.txt': 'a' });
    const outside = tempWorkspace();
    try {
      const ctx = testToolContext(ws, {
        afterAuthorize: (target) => {
          if (target.rel === 'sub/a.txt') fs.symlinkSync(outside, path.join(ws, 'sub'));
        },
      });
      const err = await rejection(runTool(moveFile, ctx, { from: 'a.txt', to: 'sub/a.txt' }));
      expect(err).to.be.instanceOf(ToolRefusal);
      expect(fs.readdirSync(outside)).to.deep.equal([]);
      expect(fs.readFileSync(path.join(ws, 'a.txt'), 'utf8')).to.equal('a');
    } finally {
      removeWorkspace(outside);
    }
  });
});
