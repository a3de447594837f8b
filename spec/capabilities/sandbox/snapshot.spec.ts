import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import {
  diffSnapshots,
  snapshotAreas,
  snapshotPlan,
  type Snapshot,
  type SnapshotEntry,
} from '../../../capabilities/sandbox/index.js';
import { workspaceRoot } from '../../../policy/canonical.js';
import { planFor, removeWorkspace, tempWorkspace } from './fixture.js';

async function snap(ws: string, areas: string[], exclude: string[] = [], maxEntries?: number): Promise<Snapshot> {
  const result = await snapshotAreas(
    await workspaceRoot(ws),
    areas.map((a) => path.join(ws, a)),
    { exclude: exclude.map((e) => path.join(ws, e)), ...(maxEntries === undefined ? {} : { maxEntries }) },
  );
  if (!result.ok) throw new Error(result.reason);
  return result.snapshot;
}

describe('sandbox change detection', () => {
  let ws: string;
  let outside: string | undefined;
  afterEach(() => {
    removeWorkspace(ws);
    removeWorkspace(outside);
    outside = undefined;
  });

  it('lists created, modified and deleted paths, recursively and sorted', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'a', 'src/b.ts': 'b', 'src/keep.ts': 'k', 'src/old/x.ts': 'x' });
    const before = await snap(ws, ['src']);
    fs.writeFileSync(path.join(ws, 'src/a.ts'), 'changed');
    fs.rmSync(path.join(ws, 'src/old'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'src/new/deep'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'src/new/deep/y.ts'), 'y');
    fs.unlinkSync(path.join(ws, 'src/b.ts'));
    const diff = diffSnapshots(before, await snap(ws, ['src']));
    expect(diff).to.deep.equal({
      created: ['src/new', 'src/new/deep', 'src/new/deep/y.ts'],
      modified: ['src/a.ts'],
      deleted: ['src/b.ts', 'src/old', 'src/old/x.ts'],
      unreadable: [],
    });
  });

  it('catches a same-size rewrite whose mtime was put back (ctime cannot be)', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'aaaa' });
    const file = path.join(ws, 'src/a.ts');
    const { atime, mtime } = fs.statSync(file);
    const before = await snap(ws, ['src']);
    fs.writeFileSync(file, 'bbbb');
    fs.utimesSync(file, atime, mtime);
    expect(diffSnapshots(before, await snap(ws, ['src'])).modified).to.deep.equal(['src/a.ts']);
  });

  it('catches a file replaced by another under the same name, a chmod, and a file turned into a directory', async () => {
    ws = tempWorkspace({ 'src/a': '1', 'src/b': '2', 'src/c': '3' });
    const before = await snap(ws, ['src']);
    fs.writeFileSync(path.join(ws, 'src/a.tmp'), '1');
    fs.renameSync(path.join(ws, 'src/a.tmp'), path.join(ws, 'src/a'));
    fs.chmodSync(path.join(ws, 'src/b'), 0o755);
    fs.unlinkSync(path.join(ws, 'src/c'));
    fs.mkdirSync(path.join(ws, 'src/c'));
    expect(diffSnapshots(before, await snap(ws, ['src'])).modified).to.deep.equal(['src/a', 'src/b', 'src/c']);
  });

  it('does not report a directory whose only change is its entries', async () => {
    ws = tempWorkspace({ 'src/': '' });
    const before = await snap(ws, ['src']);
    fs.writeFileSync(path.join(ws, 'src/new.ts'), 'n');
    expect(diffSnapshots(before, await snap(ws, ['src']))).to.deep.include({ created: ['src/new.ts'], modified: [] });
  });

  it('records a planted symlink without following it', async () => {
    ws = tempWorkspace({ 'src/': '' });
    outside = tempWorkspace({ 'big/1': '1', 'big/2': '2' });
    const before = await snap(ws, ['src']);
    fs.symlinkSync(outside, path.join(ws, 'src/link'));
    const after = await snap(ws, ['src']);
    expect(diffSnapshots(before, after).created).to.deep.equal(['src/link']);
    expect(after.entries.get('src/link')!.type).to.equal('symlink');
  });

  it('does not walk read-only or hidden paths the sandbox keeps unchanged, and says so', async () => {
    ws = tempWorkspace({ '.git/HEAD': 'ref', 'src/a': 'a', '.env': 'SECRET' });
    const s = await snap(ws, [''], ['.git', '.env']);
    expect([...s.entries.keys()].sort()).to.deep.equal(['', 'src', 'src/a']);
    expect(s.excluded).to.deep.equal(['.git', '.env']);
    expect(s.areas).to.deep.equal(['']);
  });

  it('walks an area inside another area once', async () => {
    ws = tempWorkspace({ 'src/gen/a': 'a' });
    const s = await snap(ws, ['src', 'src/gen']);
    expect(s.areas).to.deep.equal(['src']);
    expect([...s.entries.keys()].sort()).to.deep.equal(['src', 'src/gen', 'src/gen/a']);
  });

  it('snapshots a plan: its writable paths without its read-only and hidden ones', async () => {
    ws = tempWorkspace({ 'src/a': 'a', 'src/.env': 's', 'src/vendor/v': 'v', 'docs/d': 'd' });
    const plan = planFor(ws, ['true'], {
      writable: [path.join(ws, 'src')],
      readOnly: [path.join(ws, 'src/vendor')],
      hidden: [{ path: path.join(ws, 'src/.env'), kind: 'file' }],
    });
    const result = await snapshotPlan(await workspaceRoot(ws), plan);
    expect(result.ok).to.equal(true);
    if (result.ok) expect([...result.snapshot.entries.keys()].sort()).to.deep.equal(['src', 'src/a']);
  });

  it('fails clearly past the entry cap instead of walking on', async () => {
    ws = tempWorkspace(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`src/f${i}`, ''])));
    const result = await snapshotAreas(await workspaceRoot(ws), [path.join(ws, 'src')], { maxEntries: 20 });
    expect(result.ok).to.equal(false);
    if (!result.ok) expect(result.reason).to.match(/more than 20 files and directories.*make fewer or smaller areas writable/);
  });

  it('refuses areas outside the workspace', async () => {
    ws = tempWorkspace();
    const result = await snapshotAreas(await workspaceRoot(ws), ['/etc']);
    expect(result).to.deep.equal({ ok: false, reason: '/etc is not inside the workspace' });
  });

  it('reports an unreadable directory instead of calling its content deleted', () => {
    const entry = (type: SnapshotEntry['type'], extra: Partial<SnapshotEntry> = {}): SnapshotEntry => ({
      type, size: 0n, mtimeNs: 0n, ctimeNs: 0n, dev: 1n, ino: 1n, mode: 0o40755, nlink: 1, ...extra,
    });
    const base = { workspace: '/w', areas: ['src'], excluded: [] };
    const before: Snapshot = {
      ...base,
      entries: new Map([['src', entry('dir')], ['src/a', entry('file', { ino: 2n })], ['srcx', entry('file', { ino: 3n })]]),
    };
    const after: Snapshot = {
      ...base,
      entries: new Map([['src', entry('dir', { mode: 0o40000, unreadable: true })]]),
    };
    expect(diffSnapshots(before, after)).to.deep.equal({
      created: [],
      modified: ['src'],
      deleted: ['srcx'],
      unreadable: ['src'],
    });
  });
});
