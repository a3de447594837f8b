// canonicalize(): real symlinks in a temp dir. The workspace `ws` has a
// sibling `ws-secrets` with a common name prefix, the classic prefix-check bug.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckedPath, MAX_PATH_BYTES, MAX_PATH_COMPONENTS, canonicalize, isInside, workspaceRoot } from '../../policy/canonical.js';
import { ToolRefusal } from '../../policy/errors.js';

async function refusal(root: string, input: unknown): Promise<ToolRefusal> {
  try {
    await canonicalize(root, input as string);
  } catch (err) {
    expect(err).to.be.instanceOf(ToolRefusal);
    return err as ToolRefusal;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('policy/canonical', () => {
  let base: string;
  let ws: string;
  let secrets: string;

  before(() => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-canon-')));
    ws = path.join(base, 'ws');
    secrets = path.join(base, 'ws-secrets');
    fs.mkdirSync(path.join(ws, 'src', 'deep'), { recursive: true });
    fs.mkdirSync(secrets);
    fs.writeFileSync(path.join(ws, 'src', 'a.ts'), 'a');
    fs.writeFileSync(path.join(secrets, 'token'), 'secret');
    fs.symlinkSync(path.join(secrets, 'token'), path.join(ws, 'final-out')); // final symlink out
    fs.symlinkSync(secrets, path.join(ws, 'dir-out')); // intermediate dir symlink out
    fs.symlinkSync(path.join(secrets, 'not-yet'), path.join(ws, 'dangling-out')); // dangling, out
    fs.symlinkSync('src/a.ts', path.join(ws, 'link-in')); // inside -> inside
    fs.symlinkSync('src', path.join(ws, 'dir-in'));
    fs.symlinkSync('src/new.ts', path.join(ws, 'dangling-in')); // dangling, inside
    fs.symlinkSync('../ws-secrets', path.join(ws, 'relative-out')); // relative target escaping
    fs.symlinkSync('hop2', path.join(ws, 'hop1'));
    fs.symlinkSync('dangling-out', path.join(ws, 'hop2')); // chain ending outside
    fs.symlinkSync('loop-b', path.join(ws, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(ws, 'loop-b'));
    fs.symlinkSync(path.join(ws, 'src'), path.join(secrets, 'back-in')); // outside -> back inside
    fs.symlinkSync(path.join(secrets, 'back-in'), path.join(ws, 'round-trip'));
  });

  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('resolves plain existing and missing paths', async () => {
    expect(await canonicalize(ws, 'src/a.ts')).to.deep.equal({ rel: 'src/a.ts', abs: path.join(ws, 'src/a.ts'), exists: true });
    expect(await canonicalize(ws, 'src/new/file.ts')).to.deep.equal({ rel: 'src/new/file.ts', abs: path.join(ws, 'src/new/file.ts'), exists: false });
    expect((await canonicalize(ws, './src//deep/../a.ts')).rel).to.equal('src/a.ts');
    expect((await canonicalize(ws, 'src/')).rel).to.equal('src');
  });

  it('reads "." and "" as the root', async () => {
    expect(await canonicalize(ws, '.')).to.deep.equal({ rel: '.', abs: ws, exists: true });
    expect((await canonicalize(ws, '')).rel).to.equal('.');
    expect((await canonicalize(ws, 'src/..')).rel).to.equal('.');
  });

  it('follows a symlink inside that points inside', async () => {
    expect(await canonicalize(ws, 'link-in')).to.deep.equal({ rel: 'src/a.ts', abs: path.join(ws, 'src/a.ts'), exists: true });
    expect((await canonicalize(ws, 'dir-in/deep/x.ts')).rel).to.equal('src/deep/x.ts');
    expect(await canonicalize(ws, 'dangling-in')).to.deep.equal({ rel: 'src/new.ts', abs: path.join(ws, 'src/new.ts'), exists: false });
  });

  it('refuses a final symlink that points outside', async () => {
    const err = await refusal(ws, 'final-out');
    expect(err.message).to.equal('"final-out" resolves outside the workspace');
    expect(err).to.include({ decision: 'deny', rule: 'path', path: 'final-out' });
  });

  it('refuses an intermediate directory symlink that points outside, existing or not', async () => {
    expect((await refusal(ws, 'dir-out/token')).message).to.contain('resolves outside the workspace');
    expect((await refusal(ws, 'dir-out/new/file.txt')).message).to.contain('resolves outside the workspace');
    expect((await refusal(ws, 'relative-out/token')).message).to.contain('resolves outside the workspace');
    // `..` back out of a missing folder still meets the symlink after it.
    expect((await refusal(ws, 'nope/../dir-out/token')).message).to.contain('resolves outside the workspace');
    expect((await refusal(ws, 'nope/deeper/../../dir-out/new.txt')).message).to.contain('resolves outside the workspace');
  });

  it('refuses a dangling symlink whose target is outside, directly or through a chain', async () => {
    expect((await refusal(ws, 'dangling-out')).message).to.contain('resolves outside the workspace');
    expect((await refusal(ws, 'hop1')).message).to.contain('resolves outside the workspace');
  });

  it('judges a path that leaves and comes back by where it lands', async () => {
    expect(await canonicalize(ws, 'round-trip/a.ts')).to.deep.equal({ rel: 'src/a.ts', abs: path.join(ws, 'src/a.ts'), exists: true });
  });

  it('refuses symlink loops', async () => {
    expect((await refusal(ws, 'loop-a')).message).to.contain('symbolic links');
    expect((await refusal(ws, 'loop-a/x')).message).to.contain('symbolic links');
  });

  it('refuses ".." escapes, including into a sibling with a common prefix', async () => {
    expect((await refusal(ws, '../ws-secrets/token')).message).to.equal('"../ws-secrets/token" leaves the workspace');
    expect((await refusal(ws, 'src/../../ws')).message).to.contain('leaves the workspace');
    expect((await refusal(ws, '..')).message).to.contain('leaves the workspace');
  });

  it('refuses absolute paths without echoing them', async () => {
    for (const input of [path.join(ws, 'src/a.ts'), '/etc/passwd', 'C:\\Windows\\win.ini', 'c:/x', '\\\\server\\share']) {
      const err = await refusal(ws, input);
      expect(err.message).to.equal('absolute paths are not allowed: give a path relative to the workspace root');
      expect(err.path).to.equal(input);
    }
  });

  it('refuses NUL bytes and non-strings', async () => {
    expect((await refusal(ws, 'src/a.ts\0.png')).message).to.equal('path contains a NUL byte');
    expect((await refusal(ws, 42)).message).to.equal('path must be a string');
    expect((await refusal(ws, undefined)).path).to.equal(null);
  });

  it('never puts a host path in a refusal message', async () => {
    for (const input of ['final-out', 'dir-out/token', 'dangling-out', '../ws-secrets/token']) {
      const err = await refusal(ws, input);
      expect(err.message).to.not.contain(base);
    }
  });

  it('refuses a path over the length or component bounds before resolving anything', async () => {
    expect((await refusal(ws, 'a'.repeat(MAX_PATH_BYTES + 1))).message).to.equal(`path is too long (${MAX_PATH_BYTES + 1} bytes; at most ${MAX_PATH_BYTES})`);
    expect((await refusal(ws, '\u00e9'.repeat(MAX_PATH_BYTES / 2 + 1))).message).to.match(/^path is too long/);
    expect((await refusal(ws, 'a/'.repeat(MAX_PATH_COMPONENTS + 1))).message).to.equal(`path has too many components (at most ${MAX_PATH_COMPONENTS})`);
    // The red team's path: tens of thousands of components (canonicalization was quadratic in them).
    const err = await refusal(ws, `${'a/'.repeat(30_000)}x`);
    expect(err.message).to.match(/^path is too long/);
    expect(err.path!.length).to.be.at.most(200); // the audit line does not carry 60 KB
    expect((await canonicalize(ws, `src/${'d/'.repeat(MAX_PATH_COMPONENTS - 2)}x`)).exists).to.equal(false);
  });

  it('refuses a chain of symlinks that expands past the bounds', async () => {
    // Each link points at 200 components of the next: the walk stops instead of expanding 40 x 200 x ... components.
    const dir = path.join(ws, 'expand');
    fs.mkdirSync(dir);
    try {
      for (let i = 0; i < 30; i++) fs.symlinkSync(`${'./'.repeat(10)}${'x/../'.repeat(190)}l${i + 1}/${'y/'.repeat(5)}`, path.join(dir, `l${i}`));
      const err = await refusal(ws, 'expand/l0/z');
      expect(err.message).to.match(/too many (components|levels)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes CheckedPaths nothing else can forge', async () => {
    const real = await canonicalize(ws, 'src/a.ts');
    expect(CheckedPath.is(real)).to.equal(true);
    expect(real.root).to.equal(ws);
    expect(CheckedPath.is({ rel: 'src/a.ts', abs: path.join(ws, 'src/a.ts'), exists: true })).to.equal(false);
    expect(CheckedPath.is(Object.create(CheckedPath.prototype))).to.equal(false);
    expect(CheckedPath.is({ ...real })).to.equal(false);
    expect(() => (CheckedPath as any).mint(Symbol('CheckedPath.mint'), '/', 'etc/passwd', true)).to.throw(TypeError);
    expect(() => new (CheckedPath as any)(undefined, '/', 'etc/passwd', true)).to.throw(TypeError);
    expect(Object.isFrozen(real)).to.equal(true);
  });

  it('derives entries below a checked directory lexically, refusing anything but a name', async () => {
    const root = await workspaceRoot(ws);
    expect(root.rel).to.equal('.');
    expect(root.parent()).to.equal(null);
    const file = root.descend('src/deep/x.ts');
    expect([file.rel, file.abs, file.name]).to.deep.equal(['src/deep/x.ts', path.join(ws, 'src/deep/x.ts'), 'x.ts']);
    expect(file.parent()!.rel).to.equal('src/deep');
    expect(root.child('src').child('a.ts').rel).to.equal('src/a.ts');
    for (const name of ['', '.', '..', 'a/b', 'a\0b']) expect(() => root.child(name), JSON.stringify(name)).to.throw(ToolRefusal);
    expect(() => root.descend('src/../..')).to.throw(ToolRefusal);
  });

  it('isInside compares whole components', () => {
    expect(isInside(ws, ws)).to.equal(true);
    expect(isInside(ws, path.join(ws, 'a'))).to.equal(true);
    expect(isInside(ws, secrets)).to.equal(false);
    expect(isInside(ws, path.join(secrets, 'token'))).to.equal(false);
    expect(isInside(ws, base)).to.equal(false);
    expect(isInside('/', '/anything')).to.equal(true);
  });
});
