// choragen's records on a disk that will not take them (issue 16 items 3, 4,
// 7): a full disk at the start and during a run, a read-only .choragen/, an
// immutable database, a damaged database, things in the way. Each ends with
// one line that names the problem and the path, the right exit code, no stack
// trace, and records that still verify. .choragen/ is a small tmpfs of its
// own (real ENOSPC and EROFS from the kernel); where mounting is not allowed
// those cases skip with a message. Real CLI, real workers.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Tmpfs, mountTmpfs, tmpfsUnavailable } from '../../support/tmpfs.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli, writeJson } from '../../support/cli.js';
import { noStackTrace } from '../../support/assertions.js';

const read = (p: string) => ({ type: 'tool_use', name: 'read_file', input: { path: p } });
const text = (t: string) => ({ type: 'text', text: t });

describe('storage faults (issue 16)', function () {
  this.timeout(90_000);
  let ws: string;
  let disk: Tmpfs | null = null;
  let script: string;
  const state = () => path.join(ws, '.choragen');
  const start = (...extra: string[]) => runCli(['agent:start', '--role', 'impl', '-m', 'read it', '--provider', 'script', '--script', script, '-w', ws, ...extra]);
  const files = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

  beforeEach(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/a.ts': 'export const a = 1;\n' });
    script = path.join(ws, 'script.json');
    writeJson(script, { sessions: [{ role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('done')] }] }] });
  });
  afterEach(() => {
    disk?.unmount();
    disk = null;
    removeWorkspace(ws);
  });

  /** .choragen/ as a tmpfs of `kb` KiB with its directories made; skips the spec where mounting is not allowed. */
  function ownDisk(ctx: Mocha.Context, kb: number): Tmpfs {
    fs.mkdirSync(state());
    disk = mountTmpfs(kb);
    if (!disk) {
      console.log(`      (skipped: ${tmpfsUnavailable()})`);
      ctx.skip();
    }
    execFileSync('mount', ['--bind', disk!.dir, state()]);
    const bound = disk!;
    disk = { ...bound, unmount: () => { execFileSync('umount', ['-l', state()]); bound.unmount(); } };
    for (const d of ['audit', 'sessions']) fs.mkdirSync(path.join(state(), d));
    return disk;
  }

  describe('a full disk', () => {
    it('already full at the start: exit 2 with one line, and no empty audit log or database left to break later commands', async function () {
      const d = ownDisk(this, 256);
      d.fill(0);
      const r = await start();
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim()).to.match(/^choragen: cannot write in \S+\/\.choragen\/(audit|sessions): no space left on device \(ENOSPC\); free some space on that file system, then run again$/);
      expect(files(path.join(state(), 'audit'))).to.deep.equal([]);
      // A metrics command on the full disk answers (from the logs) and leaves no database file behind.
      const m = await runCli(['metrics:summary', '-w', ws]);
      expect(m.code, m.stderr).to.equal(0);
      expect(m.stderr.trim()).to.match(/^choragen: cannot write the metrics database \.choragen\/metrics\.duckdb: no space left on device \(ENOSPC\) \(free some space on that file system, then run again\); answered from the audit logs in memory$/);
      expect(files(state()).filter((f) => f.startsWith('metrics'))).to.deep.equal([]);
      d.unfill();
      const after = await runCli(['metrics:summary', '-w', ws]);
      expect([after.code, after.stderr]).to.deep.equal([0, '']);
      expect(fs.statSync(path.join(state(), 'metrics.duckdb')).size).to.be.greaterThan(0);
    });

    it('full during a run: exit 1, one line naming the file, no stack trace; the audit log verifies', async function () {
      const d = ownDisk(this, 256);
      d.fill(16 * 1024);
      // The model's first message is longer than the space left: its journal line cannot be written.
      writeJson(script, { sessions: [{ role: 'impl', turns: [{ content: [text('thinking '.repeat(4000)), read('src/a.ts')] }, { content: [text('done')] }] }] });
      const r = await start();
      expect(r.code, r.stderr).to.equal(1);
      noStackTrace(r.stderr);
      const failure = /cannot write the (audit log|session journal) \S+\/\.choragen\/(audit|sessions)\/\w+\.jsonl: no space left on device \(ENOSPC\); free some space on that file system, then run again/;
      expect(r.stderr).to.match(failure);
      expect(r.stderr.trim().split('\n').at(-1)).to.match(/^failed in .*· root \w+ · /).and.match(failure);
      const verify = await runCli(['audit:verify', '-w', ws]);
      expect(verify.code, verify.stdout).to.equal(0);
      d.unfill();
      expect((await runCli(['audit:verify', '-w', ws])).code).to.equal(0);
      // Failed, if the audit log could still take the end of the session; else it ends where its log could.
      const list = await runCli(['agent:list', '--json', '-w', ws]);
      expect(JSON.parse(list.stdout)[0].status).to.be.oneOf(['failed', 'interrupted']);
    });

    it('full during a run: a tool call in a reply that could not be journaled is not run (its effect would be unrecorded)', async function () {
      const d = ownDisk(this, 256);
      d.fill(16 * 1024);
      const write = { type: 'tool_use', name: 'write_file', input: { path: 'src/b.ts', content: 'export const b = 2;\n' } };
      writeJson(script, { sessions: [{ role: 'impl', turns: [{ content: [text('thinking '.repeat(4000)), write] }, { content: [text('done')] }] }] });
      const r = await start();
      expect(r.code, r.stderr).to.equal(1);
      noStackTrace(r.stderr);
      expect(fs.existsSync(path.join(ws, 'src/b.ts'))).to.equal(false);
      // The journal took back the line it could not finish: only whole lines (the model's long reply is not half there).
      for (const f of files(path.join(state(), 'sessions')).filter((n) => n.endsWith('.jsonl'))) {
        const journal = fs.readFileSync(path.join(state(), 'sessions', f), 'utf8');
        expect(journal === '' || journal.endsWith('\n'), f).to.equal(true);
        expect(journal).to.not.include('thinking');
      }
      d.unfill();
      expect((await runCli(['audit:verify', '-w', ws])).code).to.equal(0);
    });

    it('an empty metrics.duckdb left by an earlier failure is not a database: it is removed and rebuilt', async () => {
      expect((await start()).code).to.equal(0);
      const db = path.join(state(), 'metrics.duckdb');
      fs.writeFileSync(db, '');
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(db, old, old);
      const r = await runCli(['metrics:query', 'SELECT count(*) AS n FROM sessions', '--format', 'json', '-w', ws]);
      expect([r.code, r.stderr, r.stdout]).to.deep.equal([0, '', '[{"n":1}]\n']);
    });
  });

  describe('a read-only workspace with a writable .choragen/ of its own', () => {
    it('agent:start says the workspace is not writable before any session runs (exit 2)', async function () {
      ownDisk(this, 256);
      // The workspace read-only, its .choragen/ (its own mount) still writable.
      execFileSync('mount', ['--rbind', ws, ws]);
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', ws]);
        const r = await start();
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr.trim()).to.match(/^choragen: cannot write in \S+: read-only file system \(EROFS\); the workspace \(and its \.choragen\/ directory\) must be on a writable file system$/);
        expect(files(path.join(state(), 'audit'))).to.deep.equal([]);
      } finally {
        execFileSync('umount', ['-l', ws]);
      }
    });
  });

  describe('a read-only .choragen/', () => {
    it('agent:start and init say it is not writable and why (exit 2); metrics answer from the file, or from the logs with a note', async function () {
      const d = ownDisk(this, 16 * 1024);
      expect((await start()).code).to.equal(0);
      expect((await runCli(['metrics:summary', '-w', ws])).code).to.equal(0); // the database is up to date
      expect((await start()).code).to.equal(0); // a log the database has not seen
      d.readOnly(true);
      try {
        const r = await start();
        expect(r.code).to.equal(2);
        expect(r.stderr.trim()).to.match(/^choragen: cannot write in \S+\/\.choragen\/audit: read-only file system \(EROFS\); the workspace \(and its \.choragen\/ directory\) must be on a writable file system$/);
        const init = await runCli(['init', '--force', '-w', ws]);
        expect(init.code).to.equal(2);
        expect(init.stderr).to.match(/read-only file system \(EROFS\)/);
        const list = await runCli(['agent:list', '--json', '-w', ws]);
        expect(list.code, list.stderr).to.equal(0);
        expect(JSON.parse(list.stdout)).to.have.length(2);
        expect(list.stderr.trim()).to.equal(
          'choragen: cannot write the metrics database .choragen/metrics.duckdb: read-only file system (EROFS) ' +
            '(the workspace (and its .choragen/ directory) must be on a writable file system); answered from the audit logs in memory',
        );
        expect(list.stderr).to.not.match(/remove|delete/);
      } finally {
        d.readOnly(false);
      }
      // Once ingested, a read-only .choragen/ is read from the file, without a note.
      expect((await runCli(['metrics:summary', '-w', ws])).code).to.equal(0);
      d.readOnly(true);
      try {
        const r = await runCli(['agent:list', '--json', '-w', ws]);
        expect([r.code, r.stderr]).to.deep.equal([0, '']);
        expect(JSON.parse(r.stdout)).to.have.length(2);
      } finally {
        d.readOnly(false);
      }
    });

    it('agent:cleanup on it: one line naming the file it could not remove (exit 1), never "removed" for a file still there', async function () {
      const d = ownDisk(this, 16 * 1024);
      expect((await start()).code).to.equal(0);
      const sessions = path.join(state(), 'sessions');
      const old = new Date(Date.now() - 3_600_000);
      for (const f of files(sessions)) fs.utimesSync(path.join(sessions, f), old, old);
      d.readOnly(true);
      try {
        const r = await runCli(['agent:cleanup', '--older-than', '1m', '-w', ws]);
        expect(r.code, r.stderr).to.equal(1);
        expect(r.stdout).to.equal('');
        expect(r.stderr.trim()).to.match(/^choragen: cannot remove \S+\/\.choragen\/sessions\/\w+\.jsonl?: read-only file system \(EROFS\); the workspace \(and its \.choragen\/ directory\) must be on a writable file system$/);
        // An export directory on a read-only file system: the advice is about that directory, not the workspace.
        const exported = await runCli(['metrics:export', '--parquet', path.join(state(), 'out'), '-w', ws]);
        expect(exported.code).to.equal(2);
        expect(exported.stderr.trim()).to.match(/^choragen: cannot create the export directory \S+\/out: read-only file system \(EROFS\); give --parquet a directory on a writable file system$/);
      } finally {
        d.readOnly(false);
      }
    });

    it('an immutable database (chattr +i): a note with advice about permissions, not about deleting it', async function () {
      expect((await start()).code).to.equal(0);
      expect((await runCli(['metrics:summary', '-w', ws])).code).to.equal(0);
      expect((await start()).code).to.equal(0);
      const db = path.join(state(), 'metrics.duckdb');
      try {
        execFileSync('chattr', ['+i', db], { stdio: 'pipe' });
      } catch (err) {
        console.log(`      (skipped: chattr +i is not supported here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`);
        this.skip();
      }
      try {
        const r = await runCli(['agent:list', '--json', '-w', ws]);
        expect(r.code, r.stderr).to.equal(0);
        expect(JSON.parse(r.stdout)).to.have.length(2);
        expect(r.stderr.trim()).to.match(/^choragen: cannot write the metrics database \.choragen\/metrics\.duckdb: (permission denied \(EACCES\)|operation not permitted \(EPERM\)) \(check the owner and permissions of that path \(and any immutable attribute\)\); answered from the audit logs in memory$/);
      } finally {
        execFileSync('chattr', ['-i', db]);
      }
    });
  });

  describe('messages instead of internal errors', () => {
    it('.choragen is a file: one line saying what is in the way (exit 2)', async () => {
      fs.writeFileSync(state(), 'a file where a directory should be');
      for (const args of [['agent:start', '--role', 'impl', '-m', 'x', '--provider', 'script', '--script', script], ['init', '--force']]) {
        const r = await runCli([...args, '-w', ws]);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr.trim()).to.match(/^choragen: cannot create \S+\/\.choragen(\/\w+)?: a file is in the way where a directory should be \((EEXIST|ENOTDIR)\); move that file out of the way$/);
      }
      // The metrics commands answer (there is nothing to read) and say what is in the way, not DuckDB's words.
      const m = await runCli(['metrics:summary', '-w', ws]);
      expect(m.code, m.stderr).to.equal(0);
      expect(m.stderr.trim()).to.equal(
        'choragen: cannot write the metrics database .choragen/metrics.duckdb: a file is in the way where a directory should be (ENOTDIR) ' +
          '(move that file out of the way); answered from the audit logs in memory',
      );
    });

    it('init --force where the policy path is a directory, and a run there (exit 2)', async () => {
      fs.rmSync(path.join(ws, 'choragen.governance.yaml'));
      fs.mkdirSync(path.join(ws, 'choragen.governance.yaml'));
      const init = await runCli(['init', '--force', '-w', ws]);
      expect(init.code).to.equal(2);
      expect(init.stderr.trim()).to.match(/^choragen: \S+\/choragen\.governance\.yaml is a directory, not a governance file; move it out of the way, then run `choragen init` again$/);
      const run = await start();
      expect(run.code).to.equal(2);
      expect(run.stderr.trim()).to.match(/choragen\.governance\.yaml is a directory, not a governance file/);
    });

    it('a corrupt database block: the answer comes from the logs, and the note says how to rebuild it', async () => {
      expect((await start()).code).to.equal(0);
      // Enough rows that the tables have blocks of their own.
      const many = path.join(ws, 'many.json');
      writeJson(many, { sessions: [{ role: 'impl', turns: [...Array.from({ length: 40 }, () => ({ content: [read('src/a.ts')] })), { content: [text('done')] }] }] });
      expect((await runCli(['agent:start', '--role', 'impl', '-m', 'many', '--provider', 'script', '--script', many, '-w', ws])).code).to.equal(0);
      const sql = ['metrics:query', '--format', 'json', 'SELECT count(*) AS n, sum(length(path)) AS p FROM tool_calls'];
      const good = await runCli([...sql, '-w', ws]);
      expect(good.code, good.stderr).to.equal(0);
      const db = path.join(state(), 'metrics.duckdb');
      const size = fs.statSync(db).size;
      const fd = fs.openSync(db, 'r+');
      // Every block after the header: whichever holds the rows, it no longer matches its checksum.
      for (let at = 3 * 4096; at + 4096 <= size; at += 256 * 1024) fs.writeSync(fd, Buffer.alloc(64, 0x55), 0, 64, at + 512);
      fs.closeSync(fd);
      const r = await runCli([...sql, '-w', ws]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(good.stdout);
      expect(r.stderr.trim()).to.match(/^choragen: the metrics database \.choragen\/metrics\.duckdb is damaged \(.+\); it is only a view of the audit logs: remove it \(rm \.choragen\/metrics\.duckdb \.choragen\/metrics\.duckdb\.wal\) and the next metrics command rebuilds it; answered from the audit logs in memory$/);
    });

    it('metrics:export --parquet to a path it cannot create fails at once (exit 2), not forever', async () => {
      for (const [dir, reason] of [['/proc/nope', 'no such file or directory \\(ENOENT\\)'], [path.join(ws, 'src/a.ts/out'), 'a file is in the way where a directory should be \\(ENOTDIR\\)']] as const) {
        const r = await runCli(['metrics:export', '--parquet', dir, '-w', ws]);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr.trim()).to.match(new RegExp(`^choragen: cannot create the export directory ${dir.replace(/[/.]/g, '\\$&')}: ${reason}`));
      }
    });
  });
});
