// The one authority path (issue 15): every open re-checked, nothing followed,
// nothing reached through a folder swapped for a symlink after the check, no
// hard link read, no FIFO or device opened, no look-alike path accepted.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createFile, entryStats, listDirectory, makeDirectory, openFile, openForChange, readLinkText, readSmallSync, readWhole, removeFile, renameFile,
} from '../../../capabilities/fs/authority.js';
import { type CheckedPath, canonicalize } from '../../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../../policy/errors.js';
import { rejection } from '../../support/tool-context.js';

const SECRET = 'OUTSIDE-SECRET-2d8e';

describe('fs/authority', () => {
  let base: string;
  let ws: string;
  let outside: string;
  const at = (rel: string) => canonicalize(ws, rel);

  beforeEach(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-authority-')));
    ws = path.join(base, 'ws');
    outside = path.join(base, 'outside');
    fs.mkdirSync(path.join(ws, 'dir'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(ws, 'dir', 'f.txt'), 'inside\n');
    fs.writeFileSync(path.join(ws, 'plain.txt'), 'plain\n');
    fs.writeFileSync(path.join(outside, 'f.txt'), `${SECRET}\n`);
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  /** After the check, the folder becomes a symlink to a look-alike folder outside. */
  const swapDirOut = () => {
    fs.renameSync(path.join(ws, 'dir'), path.join(ws, 'dir.old'));
    fs.symlinkSync(outside, path.join(ws, 'dir'));
  };

  it('takes CheckedPaths only: a look-alike object is refused at run time', async () => {
    const fake = { rel: 'f.txt', abs: path.join(outside, 'f.txt'), exists: true } as unknown as CheckedPath;
    expect(() => readSmallSync(fake, 1000)).to.throw(TypeError);
    expect(() => entryStats(fake)).to.throw(TypeError);
    for (const call of [openFile(fake), readWhole(fake), listDirectory(fake), createFile(fake, Buffer.from('x')), removeFile(fake)]) {
      expect(await rejection(call)).to.be.instanceOf(TypeError);
    }
  });

  it('reads a plain file, and lists kinds without following', async () => {
    fs.symlinkSync('plain.txt', path.join(ws, 'link'));
    expect((await readWhole(await at('dir/f.txt'))).toString()).to.equal('inside\n');
    expect(await listDirectory(await at('.'))).to.deep.equal([
      { name: 'dir', kind: 'dir' }, { name: 'link', kind: 'symlink' }, { name: 'plain.txt', kind: 'file' },
    ]);
    expect(await readLinkText((await at('.')).child('link'))).to.equal('plain.txt');
  });

  it('refuses to read a hard link (its other name may be outside the workspace)', async () => {
    fs.linkSync(path.join(outside, 'f.txt'), path.join(ws, 'hard.txt'));
    const p = await at('hard.txt');
    for (const call of [() => readSmallSync(p, 1000), () => readWhole(p), () => openFile(p), () => openForChange(p, 'edit')]) {
      const err = await rejection(Promise.resolve().then(call as () => unknown));
      expect(err).to.be.instanceOf(ToolRefusal);
      expect(err.message).to.equal('hard.txt has 2 hard links; it is not read or written through a link (its other name may be outside the workspace)');
    }
  });

  it('never opens a FIFO or a device: refused from the lstat, at once', async () => {
    execFileSync('mkfifo', [path.join(ws, 'fifo')]);
    const fifo = await at('fifo');
    expect((await rejection(openFile(fifo))).message).to.equal('fifo is not a regular file');
    expect(() => readSmallSync(fifo, 100)).to.throw(ToolFailure, 'fifo is not a regular file');
    let device = false;
    try {
      execFileSync('mknod', [path.join(ws, 'null'), 'c', '1', '3'], { stdio: 'pipe' });
      device = true;
    } catch {
      // not root, or no mknod: the FIFO case above is the same check
    }
    if (device) expect((await rejection(openFile(await at('null')))).message).to.equal('null is not a regular file');
  });

  it('does not read through a folder swapped for a symlink after the check', async () => {
    const file = await at('dir/f.txt');
    const dir = await at('dir');
    swapDirOut();
    for (const call of [() => readSmallSync(file, 1000), () => readWhole(file), () => openFile(file), () => entryStats(file), () => listDirectory(dir)]) {
      const err = await rejection(Promise.resolve().then(call as () => unknown));
      expect(err, String(call)).to.be.instanceOf(ToolRefusal);
      expect(err.message).to.not.include(SECRET).and.not.include(base);
    }
  });

  it('does not change anything through a folder swapped for a symlink after the check', async () => {
    const file = await at('dir/f.txt');
    const created = await at('dir/new.txt');
    const sub = await at('dir/sub');
    const moved = await at('moved.txt');
    swapDirOut();
    const before = fs.readdirSync(outside).sort();
    for (const call of [
      () => createFile(created, Buffer.from('planted')),
      () => makeDirectory(sub),
      () => removeFile(file),
      () => renameFile(file, moved),
      () => openForChange(file, 'write'),
    ]) {
      expect(await rejection(call()), String(call)).to.be.instanceOf(ToolRefusal);
    }
    expect(fs.readdirSync(outside).sort()).to.deep.equal(before);
    expect(fs.readFileSync(path.join(outside, 'f.txt'), 'utf8')).to.equal(`${SECRET}\n`);
    expect(fs.existsSync(path.join(ws, 'moved.txt'))).to.equal(false);
  });

  it('does not follow a last component swapped for a symlink after the check', async () => {
    const file = await at('plain.txt');
    fs.rmSync(path.join(ws, 'plain.txt'));
    fs.symlinkSync(path.join(outside, 'f.txt'), path.join(ws, 'plain.txt'));
    expect((await rejection(openFile(file))).message).to.equal('plain.txt is a symlink; it is not followed');
    expect(() => readSmallSync(file, 100)).to.throw(ToolRefusal, 'plain.txt is a symlink; it is not followed');
    expect(await createFile(file, Buffer.from('x'))).to.equal(false); // exists: never overwritten, never followed
    expect((await rejection(removeFile(file))).message).to.match(/symlink/);
    expect(fs.readFileSync(path.join(outside, 'f.txt'), 'utf8')).to.equal(`${SECRET}\n`);
  });

  it('refuses a file on another filesystem mounted inside the workspace', async function () {
    const mnt = path.join(ws, 'mnt');
    fs.mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      this.skip(); // not root: nothing to mount
    }
    try {
      fs.writeFileSync(path.join(mnt, 'x.txt'), 'mounted\n');
      const err = await rejection(readWhole(await at('mnt/x.txt')));
      expect(err.message).to.equal('mnt/x.txt is on another filesystem mounted inside the workspace; it is not followed');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
