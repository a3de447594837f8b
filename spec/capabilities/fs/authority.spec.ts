// The one authority path (issue 15): every open re-checked, nothing followed,
// nothing reached through a folder swapped for a symlink after the check, no
// hard link read, no FIFO or device opened, no look-alike path accepted.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createFile, createSymlink, entryStats, listDirectory, listDirectoryStats, makeDirectory, openFile, openForChange, readLinkText, readSmallSync,
  readWhole, removeFile, removeRawTree, removeTree, renameFile, setMode,
} from '../../../capabilities/fs/authority.js';
import { type CheckedPath, canonicalize } from '../../../policy/canonical.js';
import { ToolFailure, ToolRefusal } from '../../../policy/errors.js';
import { mountTmpfs } from '../../support/tmpfs.js';
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
  // rm(1) empties trees deeper than a path can name (fs.rmSync stops at PATH_MAX).
  afterEach(() => execFileSync('rm', ['-rf', base]));

  /** After the check, the folder becomes a symlink to a look-alike folder outside. */
  const swapDirOut = () => {
    fs.renameSync(path.join(ws, 'dir'), path.join(ws, 'dir.old'));
    fs.symlinkSync(outside, path.join(ws, 'dir'));
  };

  it('takes CheckedPaths only: a look-alike object is refused at run time', async () => {
    const fake = { rel: 'f.txt', abs: path.join(outside, 'f.txt'), exists: true } as unknown as CheckedPath;
    expect(() => readSmallSync(fake, 1000)).to.throw(TypeError);
    expect(() => entryStats(fake)).to.throw(TypeError);
    for (const call of [
      openFile(fake), readWhole(fake), listDirectory(fake), createFile(fake, Buffer.from('x')), removeFile(fake),
      listDirectoryStats(fake), setMode(fake, 0o644, 'file'), createSymlink(fake, 'x'), removeTree(fake), removeRawTree(fake, Buffer.from([0xff])),
    ]) {
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
    for (const call of [
      () => readSmallSync(file, 1000), () => readWhole(file), () => openFile(file), () => entryStats(file), () => listDirectory(dir), () => listDirectoryStats(dir),
    ]) {
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
    const dir = await at('dir');
    swapDirOut();
    const before = fs.readdirSync(outside).sort();
    fs.chmodSync(path.join(outside, 'f.txt'), 0o4644);
    for (const call of [
      () => createFile(created, Buffer.from('planted')),
      () => makeDirectory(sub),
      () => removeFile(file),
      () => renameFile(file, moved),
      () => openForChange(file, 'write'),
      () => setMode(file, 0o644, 'file'),
      () => createSymlink(created, '/etc/passwd'),
      () => removeTree(file),
      () => removeRawTree(dir, Buffer.from('f.txt')),
    ]) {
      expect(await rejection(call()), String(call)).to.be.instanceOf(ToolRefusal);
    }
    expect(fs.readdirSync(outside).sort()).to.deep.equal(before);
    expect(fs.readFileSync(path.join(outside, 'f.txt'), 'utf8')).to.equal(`${SECRET}\n`);
    expect(fs.statSync(path.join(outside, 'f.txt')).mode & 0o7777).to.equal(0o4644);
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
    fs.mkdirSync(path.join(ws, 'mnt'));
    const mounted = mountTmpfs(64, path.join(ws, 'mnt'));
    if (mounted === null) this.skip(); // not root: nothing to mount
    try {
      fs.writeFileSync(path.join(mounted.dir, 'x.txt'), 'mounted\n');
      const err = await rejection(readWhole(await at('mnt/x.txt')));
      expect(err.message).to.equal('mnt/x.txt is on another filesystem mounted inside the workspace; it is not followed');
    } finally {
      mounted.unmount();
    }
  });

  describe("a command's leftovers (run_command's plan and check)", () => {
    const odd = Buffer.from([0x78, 0xff, 0x2e, 0x6b, 0x65, 0x79]); // "x\xff.key": not valid UTF-8
    const oddPath = () => Buffer.concat([Buffer.from(`${ws}/dir/`), odd]);

    it('lists each entry with an lstat, following nothing and opening nothing; a name that is not UTF-8 comes back as bytes', async () => {
      fs.symlinkSync(outside, path.join(ws, 'dir', 'out'));
      execFileSync('mkfifo', [path.join(ws, 'dir', 'fifo')]);
      fs.writeFileSync(oddPath(), 'odd');
      const listed = await listDirectoryStats(await at('dir'));
      expect(listed.map((e) => e.name)).to.deep.equal(['f.txt', 'fifo', 'out', 'x\\xff.key']);
      const byName = new Map(listed.map((e) => [e.name, e]));
      expect(byName.get('out')!.stats.isSymbolicLink()).to.equal(true);
      expect(byName.get('out')!.stats.ino).to.equal(fs.lstatSync(path.join(ws, 'dir', 'out'), { bigint: true }).ino);
      expect(byName.get('fifo')!.stats.isFIFO()).to.equal(true);
      expect(byName.get('x\\xff.key')!.raw).to.deep.equal(odd);
      expect(byName.get('f.txt')!.raw).to.equal(undefined);
      // list_files' listing says the same about the name.
      expect((await listDirectory(await at('dir'))).find((e) => e.raw)).to.deep.include({ name: 'x\\xff.key', kind: 'file' });
    });

    it('sets the mode of a file or a directory (a directory left 000 too), never through a symlink or a hard link', async () => {
      fs.chmodSync(path.join(ws, 'dir', 'f.txt'), 0o4755);
      await setMode(await at('dir/f.txt'), 0o755, 'file');
      expect(fs.statSync(path.join(ws, 'dir', 'f.txt')).mode & 0o7777).to.equal(0o755);
      fs.chmodSync(path.join(ws, 'dir'), 0o000);
      await setMode(await at('dir'), 0o755, 'dir');
      expect(fs.statSync(path.join(ws, 'dir')).mode & 0o7777).to.equal(0o755);

      fs.chmodSync(path.join(outside, 'f.txt'), 0o4644);
      fs.symlinkSync(path.join(outside, 'f.txt'), path.join(ws, 'link'));
      fs.linkSync(path.join(outside, 'f.txt'), path.join(ws, 'hard'));
      const root = await at('.');
      expect((await rejection(setMode(root.child('link'), 0o644, 'file'))).message).to.equal('link is a symlink; it is not followed');
      expect((await rejection(setMode(root.child('hard'), 0o644, 'file'))).message).to.match(/^hard has 2 hard links/);
      expect((await rejection(setMode(await at('plain.txt'), 0o644, 'dir'))).message).to.equal('plain.txt is not a directory');
      expect(fs.statSync(path.join(outside, 'f.txt')).mode & 0o7777).to.equal(0o4644);
    });

    it('makes a symlink with the given text, and never replaces what is there', async () => {
      const root = await at('.');
      expect(await createSymlink(root.child('back'), 'plain.txt')).to.equal(true);
      expect(fs.readlinkSync(path.join(ws, 'back'))).to.equal('plain.txt');
      expect(await createSymlink(root.child('plain.txt'), '/etc/passwd')).to.equal(false);
      expect(fs.readFileSync(path.join(ws, 'plain.txt'), 'utf8')).to.equal('plain\n');
    });

    it('removes a file, and a tree with directories left 000 (false when nothing is there)', async () => {
      fs.mkdirSync(path.join(ws, 'gen', 'a'), { recursive: true });
      fs.writeFileSync(path.join(ws, 'gen', 'a', 'b'), 'b');
      fs.chmodSync(path.join(ws, 'gen', 'a'), 0o000);
      expect(await removeTree(await at('plain.txt'))).to.equal(true);
      expect(await removeTree(await at('gen'))).to.equal(true);
      expect(await removeTree((await at('.')).child('nothing'))).to.equal(false);
      expect(fs.readdirSync(ws).sort()).to.deep.equal(['dir']);
    });

    it('unlinks a symlink in a tree and leaves what it points to alone', async () => {
      fs.mkdirSync(path.join(ws, 'gen'));
      fs.symlinkSync(outside, path.join(ws, 'gen', 'to-outside'));
      fs.symlinkSync(path.join(outside, 'f.txt'), path.join(ws, 'link'));
      expect(await removeTree(await at('gen'))).to.equal(true);
      expect(await removeTree((await at('.')).child('link'))).to.equal(true);
      expect(fs.readFileSync(path.join(outside, 'f.txt'), 'utf8')).to.equal(`${SECRET}\n`);
      expect(fs.existsSync(path.join(ws, 'gen'))).to.equal(false);
    });

    it('removes a tree far deeper than a path can name, whatever sits at the bottom', async () => {
      // 40 levels of 200-byte names: 8 KB of path, twice PATH_MAX; made with relative steps, as a command would.
      const name = 'd'.repeat(200);
      const script = `const fs = require('fs'); process.chdir(process.argv[1]);
        for (let i = 0; i < 40; i++) { fs.mkdirSync('${name}'); process.chdir('${name}'); }
        fs.writeFileSync('bottom.key', 'x'); fs.symlinkSync(process.argv[2], 'out'); fs.chmodSync('.', 0);`;
      execFileSync(process.execPath, ['-e', script, path.join(ws, 'dir'), outside]);
      expect(() => fs.readdirSync(path.join(ws, 'dir', ...Array(40).fill(name)))).to.throw(/ENAMETOOLONG/);
      expect(await removeTree(await at('dir'))).to.equal(true);
      expect(fs.existsSync(path.join(ws, 'dir'))).to.equal(false);
      expect(fs.readFileSync(path.join(outside, 'f.txt'), 'utf8')).to.equal(`${SECRET}\n`);
    });

    it('removes an entry whose name is not UTF-8 by its bytes, and takes only a name from a listing', async () => {
      fs.mkdirSync(oddPath());
      fs.writeFileSync(Buffer.concat([oddPath(), Buffer.from('/inner')]), 'x');
      expect(await removeRawTree(await at('dir'), odd)).to.equal(true);
      expect(fs.readdirSync(path.join(ws, 'dir'))).to.deep.equal(['f.txt']);
      for (const bad of ['..', '.', 'a/b', '']) expect(await rejection(removeRawTree(await at('dir'), Buffer.from(bad))), bad).to.be.instanceOf(TypeError);
      // No CheckedPath names anything but an entry below its directory.
      const root = await at('.');
      for (const bad of ['a/../../x', '../x', 'a//b', '/etc']) expect(() => root.descend(bad), bad).to.throw(ToolRefusal);
    });
  });
});
