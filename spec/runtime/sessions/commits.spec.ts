import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import git from 'isomorphic-git';
import { recordSessionCommit, sessionRef } from '../../../runtime/sessions/commits.js';
import { makeWorkspace } from '../../support/cli.js';
import { committedRepo, realGit } from '../../support/git-repo.js';

const workspace = makeWorkspace;


/** Everything a user would notice: branch, HEAD, index bytes, status, working tree files. */
function userState(dir: string) {
  const tree: Record<string, string> = {};
  const visit = (abs: string, rel: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) visit(path.join(abs, e.name), r);
      else tree[r] = fs.readFileSync(path.join(abs, e.name), 'utf8');
    }
  };
  visit(dir, '');
  return {
    head: fs.readFileSync(path.join(dir, '.git/HEAD'), 'utf8'),
    main: fs.readFileSync(path.join(dir, '.git/refs/heads/main'), 'utf8'),
    index: fs.readFileSync(path.join(dir, '.git/index')).toString('base64'),
    tree,
  };
}

describe('session commits', () => {
  let ws = '';
  afterEach(() => {
    if (ws) fs.rmSync(ws, { recursive: true, force: true });
    ws = '';
  });

  it('records the session\'s files on its own ref without touching branch, HEAD, index or working tree', async () => {
    ws = await committedRepo({ 'a.txt': 'one\n', 'src/keep.ts': 'keep\n', 'src/gone.ts': 'gone\n', 'bin/run': '#!/bin/sh\n' });
    fs.writeFileSync(path.join(ws, 'a.txt'), 'one changed\n');
    fs.mkdirSync(path.join(ws, 'src/new'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'src/new/b.ts'), 'b\n');
    fs.rmSync(path.join(ws, 'src/gone.ts'));
    fs.writeFileSync(path.join(ws, 'unrelated.txt'), 'not part of the session\n');
    fs.chmodSync(path.join(ws, 'bin/run'), 0o755);
    const statusBefore = realGit(ws, 'status', '--porcelain');
    const before = userState(ws);
    const head = await git.resolveRef({ fs, dir: ws, ref: 'HEAD' });

    const oid = await recordSessionCommit(ws, {
      sessionId: 'sess-1',
      role: 'impl',
      parentId: 'ctl-0',
      files: ['a.txt', 'src/new/b.ts', 'src/gone.ts', 'bin/run'],
      message: 'impl session sess-1: add b',
    });
    expect(oid).to.match(/^[0-9a-f]{40}$/);
    expect(userState(ws)).to.deep.equal(before);
    expect(realGit(ws, 'status', '--porcelain')).to.equal(statusBefore);
    expect(realGit(ws, 'rev-parse', 'HEAD').trim()).to.equal(head);
    expect(realGit(ws, 'symbolic-ref', 'HEAD').trim()).to.equal('refs/heads/main');

    expect(await git.resolveRef({ fs, dir: ws, ref: 'refs/choragen/sessions/sess-1' })).to.equal(oid);
    const { commit } = await git.readCommit({ fs, dir: ws, oid: oid! });
    expect(commit.parent).to.deep.equal([head]);
    expect(commit.author).to.include({ name: 'choragen', email: 'choragen@localhost' });
    expect(commit.message).to.equal('impl session sess-1: add b\n\nChoragen-Session: sess-1\nChoragen-Role: impl\nChoragen-Parent: ctl-0\n');

    const changes = realGit(ws, 'diff', '--name-status', head, 'refs/choragen/sessions/sess-1').trim().split('\n').sort();
    expect(changes).to.deep.equal(['A\tsrc/new/b.ts', 'D\tsrc/gone.ts', 'M\ta.txt', 'M\tbin/run']);
    expect(realGit(ws, 'show', 'refs/choragen/sessions/sess-1:src/new/b.ts')).to.equal('b\n');
    expect(realGit(ws, 'ls-tree', 'refs/choragen/sessions/sess-1', 'bin/run')).to.match(/^100755 blob/);
    expect(realGit(ws, 'show', 'refs/choragen/sessions/sess-1:src/keep.ts')).to.equal('keep\n');
    expect(realGit(ws, 'log', '--format=%(trailers:key=Choragen-Role,valueonly)', '-1', 'refs/choragen/sessions/sess-1').trim()).to.equal('impl');
    realGit(ws, 'fsck', '--strict', '--no-dangling');
  });

  it('parents a second commit of the same session on its first', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    fs.writeFileSync(path.join(ws, 'a.txt'), 'a2\n');
    const first = await recordSessionCommit(ws, { sessionId: 's', role: 'impl', parentId: null, files: ['a.txt'], message: 'first' });
    fs.writeFileSync(path.join(ws, 'b.txt'), 'b2\n');
    const second = await recordSessionCommit(ws, { sessionId: 's', role: 'impl', parentId: null, files: ['b.txt'], message: 'second' });
    const { commit } = await git.readCommit({ fs, dir: ws, oid: second! });
    expect(commit.parent).to.deep.equal([first]);
    expect(commit.message).to.contain('Choragen-Parent: none');
    expect(realGit(ws, 'show', 'refs/choragen/sessions/s:a.txt')).to.equal('a2\n');
    expect(realGit(ws, 'show', 'refs/choragen/sessions/s:b.txt')).to.equal('b2\n');
  });

  it('records nothing when nothing differs, outside a repository, or without files', async () => {
    ws = await committedRepo({ 'a.txt': 'a\n' });
    expect(await recordSessionCommit(ws, { sessionId: 's', role: 'impl', parentId: null, files: ['a.txt'], message: 'm' })).to.equal(null);
    expect(await recordSessionCommit(ws, { sessionId: 's', role: 'impl', parentId: null, files: [], message: 'm' })).to.equal(null);
    expect(await recordSessionCommit(ws, { sessionId: 's', role: 'impl', parentId: null, files: ['../outside', '.git/config', 'missing.txt'], message: 'm' })).to.equal(null);
    expect(realGit(ws, 'for-each-ref', 'refs/choragen')).to.equal('');
    const plain = workspace({ 'a.txt': 'a' });
    try {
      expect(await recordSessionCommit(plain, { sessionId: 's', role: 'impl', parentId: null, files: ['a.txt'], message: 'm' })).to.equal(null);
      expect(fs.existsSync(path.join(plain, '.git'))).to.equal(false);
    } finally {
      fs.rmSync(plain, { recursive: true, force: true });
    }
  });

  it('works in a repository without commits', async () => {
    ws = workspace({ 'a.txt': 'a\n' });
    await git.init({ fs, dir: ws, defaultBranch: 'main' });
    const oid = await recordSessionCommit(ws, { sessionId: 'first', role: 'control', parentId: null, files: ['a.txt'], message: 'm' });
    const { commit } = await git.readCommit({ fs, dir: ws, oid: oid! });
    expect(commit.parent).to.deep.equal([]);
    expect(realGit(ws, 'show', 'refs/choragen/sessions/first:a.txt')).to.equal('a\n');
    expect(fs.existsSync(path.join(ws, '.git/refs/heads/main'))).to.equal(false);
  });

  it('makes a ref name git accepts from any session id', () => {
    expect(sessionRef('abc-123_x.y')).to.equal('refs/choragen/sessions/abc-123_x.y');
    expect(sessionRef('../a b:c~^?*[\\')).to.equal('refs/choragen/sessions/a-b-c------');
    expect(sessionRef('x.lock')).to.equal('refs/choragen/sessions/x-');
    expect(sessionRef('')).to.equal('refs/choragen/sessions/session');
    for (const id of ['../a b:c~^?*[\\', 'x.lock', '.hidden', 'a..b', 'ok-1']) {
      execFileSync('git', ['check-ref-format', sessionRef(id)]); // throws on a name git refuses
    }
  });
});
