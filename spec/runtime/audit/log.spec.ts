import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, auditLogPath, chainSeed } from '../../../runtime/audit/log.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { StorageError, UsageError } from '../../../policy/errors.js';
import { type Tmpfs, mountTmpfs, tmpfsUnavailable } from '../../support/tmpfs.js';
import { HEADER, typicalRun } from '../../support/synthetic-audit.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('audit log', () => {
  let ws: string;
  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-audit-'));
  });
  afterEach(() => fs.rmSync(ws, { recursive: true, force: true }));

  const linesOf = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  const writeLines = (file: string, lines: string[]) => fs.writeFileSync(file, `${lines.join('\n')}\n`);

  describe('AuditLog', () => {
    it('starts with run_started chained to the version and policy hash, then chains each line to the one before', () => {
      const run = typicalRun(ws, 'root-a');
      run.close();
      const file = auditLogPath(ws, 'root-a');
      const lines = linesOf(file);
      const first = JSON.parse(lines[0]);
      expect(first).to.include({ line_seq: 0, session_id: 'root-a', type: 'run_started', version: '0.1.0', pid: process.pid });
      expect(first.prev).to.equal(chainSeed('0.1.0', 'f'.repeat(64)));
      expect(first.prev).to.equal(sha(`choragen-audit-v1|0.1.0|${'f'.repeat(64)}`));
      lines.forEach((line, i) => {
        const o = JSON.parse(line);
        expect(o.line_seq).to.equal(i);
        expect(Object.keys(o).slice(0, 4)).to.deep.equal(['line_seq', 'ts', 'session_id', 'type']);
        expect(Object.keys(o).at(-1)).to.equal('prev');
        expect(Number.isNaN(Date.parse(o.ts))).to.equal(false);
        if (i > 0) expect(o.prev).to.equal(sha(lines[i - 1]));
      });
    });

    it('returns the line as stored, with the event’s own per-session seq kept', () => {
      const log = AuditLog.open(ws, 'root-b', HEADER(ws));
      const stored = log.append({
        type: 'tool_call', session_id: 's1', seq: 7, tool: 'read_file', tool_use_id: 'toolu_1', started_at: new Date().toISOString(),
        duration_ms: 0.25, decision: 'allow', rule: 'roles.impl.allow[0]', path: 'src/ünïcode.ts', is_error: false, error: null,
      });
      log.close();
      const onDisk = JSON.parse(linesOf(log.file)[1]);
      expect(onDisk).to.deep.equal(stored);
      expect(stored).to.include({ line_seq: 1, seq: 7, path: 'src/ünïcode.ts' });
      // Closing sealed it: a last line of its own, so the chain vouches for the line before.
      expect(JSON.parse(linesOf(log.file)[2])).to.include({ line_seq: 2, type: 'log_closed', session_id: 'root-b' });
      expect(verifyAuditFile(log.file)).to.deep.equal({ ok: true, lines: 3 });
    });

    it('refuses to overwrite an existing log and refuses unsafe session ids', () => {
      AuditLog.open(ws, 'root-c', HEADER(ws)).close();
      expect(() => AuditLog.open(ws, 'root-c', HEADER(ws))).to.throw(UsageError, /already exists/);
      expect(() => AuditLog.open(ws, '../escape', HEADER(ws))).to.throw(UsageError, /not a valid session id/);
    });

    it('resumes where the log stopped and records which process writes from then on', () => {
      typicalRun(ws, 'root-d').close();
      const file = auditLogPath(ws, 'root-d');
      const before = linesOf(file).length;
      const log = AuditLog.resume(file);
      expect(log.lines).to.equal(before + 1);
      log.append({ type: 'notice', session_id: 'root-d', kind: 'commit', message: 'after resume' });
      log.close();
      const lines = linesOf(file);
      expect(JSON.parse(lines[before])).to.include({ type: 'notice', kind: 'resume', pid: process.pid, line_seq: before });
      expect(verifyAuditFile(file)).to.deep.equal({ ok: true, lines: before + 3 });
    });

    it('on resume, cuts a half-written final line left by a crash and says so in the log', () => {
      typicalRun(ws, 'root-e').close();
      const file = auditLogPath(ws, 'root-e');
      const complete = linesOf(file).length;
      fs.appendFileSync(file, '{"line_seq":99,"ts":"2025-01-0');
      expect(verifyAuditFile(file)).to.deep.equal({ ok: false, line: complete + 1, reason: 'truncated final line' });
      const log = AuditLog.resume(file);
      log.close();
      expect(log.droppedTailBytes).to.equal(30);
      const notice = JSON.parse(linesOf(file).at(-2)!);
      expect(notice.message).to.match(/cut a partially written final line \(30 bytes\)/);
      expect(verifyAuditFile(file)).to.deep.equal({ ok: true, lines: complete + 2 });
    });

    describe('on a full disk (a small tmpfs)', () => {
      let disk: Tmpfs | null;
      beforeEach(function () {
        disk = mountTmpfs(64);
        if (!disk) {
          console.log(`      (skipped: ${tmpfsUnavailable()})`);
          this.skip();
        }
      });
      afterEach(() => disk?.unmount());

      it('a line that does not fit is cut back to the last whole line; the log verifies, and goes on once space is back', () => {
        const log = AuditLog.open(disk!.dir, 'root-full', HEADER(disk!.dir));
        log.append({ type: 'notice', session_id: 'root-full', kind: 'commit', message: 'fits' });
        disk!.fill();
        const long = { type: 'notice' as const, session_id: 'root-full', kind: 'commit' as const, message: 'x'.repeat(20_000) };
        expect(() => log.append(long)).to.throw(StorageError, /^cannot write the audit log .*root-full\.jsonl: no space left on device \(ENOSPC\); free some space/);
        // Every later line is refused too: the chain never skips a line.
        expect(() => log.append(long)).to.throw(StorageError, /ENOSPC/);
        expect(fs.readFileSync(log.file).at(-1)).to.equal(0x0a);
        expect(verifyAuditFile(log.file)).to.deep.equal({ ok: true, lines: 2 });
        log.close();
        disk!.unfill();
        const resumed = AuditLog.resume(log.file);
        resumed.append(long);
        resumed.close();
        expect(verifyAuditFile(log.file)).to.deep.equal({ ok: true, lines: 5 });
      });

      it('a disk full at the start leaves no audit log behind (exit 2: nothing ran)', () => {
        fs.mkdirSync(path.join(disk!.dir, '.choragen', 'audit'), { recursive: true });
        disk!.fill();
        let thrown: unknown;
        try {
          AuditLog.open(disk!.dir, 'root-none', HEADER(disk!.dir));
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(StorageError);
        expect((thrown as StorageError).exitCode).to.equal(2);
        expect((thrown as Error).message).to.match(/^cannot (write|create) the audit log .*root-none\.jsonl: no space left on device/);
        expect(fs.readdirSync(path.join(disk!.dir, '.choragen', 'audit'))).to.deep.equal([]);
      });
    });

    it('never leaves a partial line when the writing process is killed', async function () {
      this.timeout(20000);
      const file = auditLogPath(ws, 'root-kill');
      const script = `
        import { AuditLog } from ${JSON.stringify(new URL('../../../runtime/audit/log.js', import.meta.url).href)};
        const log = AuditLog.open(${JSON.stringify(ws)}, 'root-kill', ${JSON.stringify(HEADER(ws))});
        const text = 'x'.repeat(3000);
        for (let i = 0; ; i++) {
          log.append({ type: 'notice', session_id: 'root-kill', kind: 'commit', message: text + i });
          if (i === 200) process.stdout.write('ready\\n');
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const r = verifyAuditFile(file);
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      expect(fs.readFileSync(file).at(-1)).to.equal(0x0a);
    });
  });

  describe('verifyAuditFile', () => {
    let file: string;
    let lines: string[];
    beforeEach(() => {
      typicalRun(ws, 'root-v').close();
      file = auditLogPath(ws, 'root-v');
      lines = linesOf(file);
      expect(lines.length).to.be.greaterThan(10);
    });

    it('accepts an intact log', () => {
      expect(verifyAuditFile(file)).to.deep.equal({ ok: true, lines: lines.length });
    });

    it('names the line in which one byte changed', () => {
      expect(lines[4]).to.contain('"ts":"2');
      lines[4] = lines[4].replace('"ts":"2', '"ts":"3');
      writeLines(file, lines);
      const r = verifyAuditFile(file);
      expect(r).to.include({ ok: false, line: 5 });
      expect((r as { reason: string }).reason).to.match(/changed after it was written/);
    });

    it('names a line whose prev was changed', () => {
      const o = JSON.parse(lines[6]);
      lines[6] = lines[6].replace(o.prev, o.prev.replace(/^./, (c: string) => (c === '0' ? '1' : '0')));
      writeLines(file, lines);
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 7 });
    });

    it('names the first line after a deleted line', () => {
      lines.splice(3, 1);
      writeLines(file, lines);
      const r = verifyAuditFile(file);
      expect(r).to.include({ ok: false, line: 4 });
      expect((r as { reason: string }).reason).to.match(/deleted, inserted or moved/);
    });

    it('names the first of two swapped lines', () => {
      [lines[5], lines[6]] = [lines[6], lines[5]];
      writeLines(file, lines);
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 6 });
    });

    it('detects a deleted first line and a changed header', () => {
      writeLines(file, lines.slice(1));
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 1 });
      lines[0] = lines[0].replace('"policy_hash":"f', '"policy_hash":"e');
      writeLines(file, lines);
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 1 });
    });

    it('reports a garbled line and a half-written final line', () => {
      const garbled = [...lines];
      garbled[8] = garbled[8].slice(0, 40);
      writeLines(file, garbled);
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 9 });
      fs.writeFileSync(file, `${lines.join('\n')}\n${lines[3].slice(0, 50)}`);
      expect(verifyAuditFile(file)).to.deep.equal({ ok: false, line: lines.length + 1, reason: 'truncated final line' });
    });

    it('checks the last line in full: it is the one no later line vouches for', () => {
      lines[lines.length - 1] = lines[lines.length - 1].replace('"session_id":', '"session_id" ');
      writeLines(file, lines);
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: lines.length });
    });

    it('reports an empty file', () => {
      fs.writeFileSync(file, '');
      expect(verifyAuditFile(file)).to.deep.include({ ok: false, line: 1 });
    });
  });
});
