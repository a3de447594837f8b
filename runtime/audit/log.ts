// The run's audit log: one JSON line per event, hash-chained, written
// synchronously so a line is on disk (in the OS page cache: it survives a
// crash of this process) before the broker reports the effect it records.
//
//   { line_seq, ts, session_id, type, ...event fields, prev }
//
// `prev` is the SHA-256 (hex) of the previous line's exact bytes; line 0's
// prev is the SHA-256 of `choragen-audit-v1|<version>|<policy_hash>`. Each
// line goes to the kernel in one write of the whole line, so a crash between
// appends never leaves half a line behind; a write that fails part way (a
// full disk) is cut back to the last whole line, so the log still verifies.
//
// A hash chain vouches for each line through the next one, so nothing vouches
// for the last. close() seals the log with a last line of no content of its
// own (`log_closed`), so that every event line of a closed log is vouched for.
import fs from 'node:fs';
import path from 'node:path';
import { hash } from 'node:crypto';
import { ChoragenError, UsageError } from '../../policy/errors.js';
import type { AuditEvent, AuditLine, RunStarted } from './events.js';
import { workspacePaths } from '../paths.js';
import { storageError } from '../storage-error.js';

export const AUDIT_FORMAT = 'choragen-audit-v1';

/** SHA-256 hex of a string's UTF-8 bytes or of raw bytes (one-shot: cheaper than createHash). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** The `prev` of line 0: binds the chain to the version and the policy it ran under. */
export function chainSeed(version: string, policyHash: string): string {
  return sha256Hex(`${AUDIT_FORMAT}|${version}|${policyHash}`);
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function auditLogPath(workspace: string, rootSessionId: string): string {
  if (!SAFE_ID.test(rootSessionId)) throw new UsageError(`not a valid session id: ${JSON.stringify(rootSessionId)}`);
  return path.join(workspacePaths(workspace).audit, `${rootSessionId}.jsonl`);
}

/** The workspace's audit logs (paths), sorted by name; none when there is no audit directory yet. */
export function auditLogFiles(workspace: string): string[] {
  const dir = workspacePaths(workspace).audit;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.jsonl')).sort().map((n) => path.join(dir, n));
}

/**
 * Writes the whole line in one call; finishes a short write (rare on a regular
 * file: a disk that fills mid-line), so a full disk throws instead of leaving
 * half a line behind unnoticed. The session journal writes its lines this way too.
 */
export function writeLine(fd: number, line: string): void {
  const written = fs.writeSync(fd, line);
  if (written === Buffer.byteLength(line)) return;
  const rest = Buffer.from(line, 'utf8');
  for (let off = written; off < rest.length; ) off += fs.writeSync(fd, rest, off, rest.length - off);
}

export class AuditLog {
  private closed = false;
  /** Set once a write failed: nothing more is appended (the file ends at its last whole line). */
  private failure: ChoragenError | null = null;

  private constructor(
    readonly file: string,
    /** The root session id the log is named by: the session_id of its own lines. */
    private readonly rootId: string,
    private readonly fd: number,
    private nextLineSeq: number,
    private prevHash: string,
    /** Where the last whole line ends: a failed write is cut back to here. */
    private size: number,
    /** Bytes of a partially written final line that resume() cut off (0 normally). */
    readonly droppedTailBytes = 0,
  ) {}

  /**
   * Creates `.choragen/audit/<rootSessionId>.jsonl` and writes its
   * run_started line. If that line cannot be written (a full disk), no file
   * is left behind and the error says so (exit 2: nothing has run yet).
   */
  static open(workspace: string, rootSessionId: string, header: Omit<RunStarted, 'type' | 'session_id'>): AuditLog {
    const file = auditLogPath(workspace, rootSessionId);
    let fd: number;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fd = fs.openSync(file, 'ax');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        throw new UsageError(`audit log already exists for session ${rootSessionId}: ${file}`);
      }
      throw storageError(err, 'create the audit log', file, true);
    }
    const log = new AuditLog(file, rootSessionId, fd, 0, chainSeed(header.version, header.policy_hash), 0);
    try {
      log.append({ type: 'run_started', session_id: rootSessionId, ...header });
    } catch (err) {
      log.close();
      fs.rmSync(file, { force: true });
      throw storageError(err, 'write the audit log', file, true);
    }
    return log;
  }

  /**
   * Continues an existing log (agent:resume). Reads only the last line to get
   * line_seq and prev. A final line left half-written by a crash (no trailing
   * newline) cannot be chained to, so it is cut off and the cut is recorded.
   * Appends a `notice` (kind 'resume', pid) naming the process that writes
   * from here on: metrics use it to tell running sessions from dead ones.
   */
  static resume(file: string): AuditLog {
    const { lastLine, completeBytes, totalBytes } = readLastLine(file);
    let parsed: { line_seq?: unknown };
    try {
      parsed = JSON.parse(lastLine.toString('utf8'));
    } catch {
      throw new ChoragenError(`cannot resume ${file}: its last line is not valid JSON (run audit:verify)`);
    }
    if (typeof parsed.line_seq !== 'number') {
      throw new ChoragenError(`cannot resume ${file}: its last line has no line_seq (run audit:verify)`);
    }
    const dropped = totalBytes - completeBytes;
    if (dropped > 0) fs.truncateSync(file, completeBytes);
    const fd = fs.openSync(file, 'a');
    const rootId = path.basename(file, '.jsonl');
    const log = new AuditLog(file, rootId, fd, parsed.line_seq + 1, sha256Hex(lastLine), completeBytes, dropped);
    const cut = dropped > 0 ? `; cut a partially written final line (${dropped} bytes) left by a crash` : '';
    log.append({ type: 'notice', session_id: rootId, kind: 'resume', message: `log resumed by process ${process.pid}${cut}`, pid: process.pid });
    return log;
  }

  /** Number of lines in the file so far. */
  get lines(): number {
    return this.nextLineSeq;
  }

  /**
   * Appends one line and returns it as stored. Synchronous: the line is
   * written when this returns. A write that fails (disk full, I/O error) is
   * cut back to the last whole line and throws a StorageError naming the
   * file; every later append throws it again.
   */
  append(event: AuditEvent): AuditLine {
    if (this.closed) throw new ChoragenError(`audit log is closed: ${this.file}`);
    if (this.failure) throw this.failure;
    const lineSeq = this.nextLineSeq;
    const ts = new Date().toISOString();
    const prev = this.prevHash;
    // One serialization: a fixed head in the documented key order, then the
    // event's own fields, then prev.
    const { session_id, type, ...fields } = event;
    const body = JSON.stringify(fields);
    const text =
      `{"line_seq":${lineSeq},"ts":"${ts}","session_id":${JSON.stringify(session_id)},"type":"${type}"` +
      (body.length > 2 ? `,${body.slice(1, -1)}` : '') +
      `,"prev":"${prev}"}`;
    const line = `${text}\n`;
    try {
      writeLine(this.fd, line);
    } catch (err) {
      this.failure = storageError(err, 'write the audit log', this.file);
      this.cutBack();
      throw this.failure;
    }
    this.size += Buffer.byteLength(line);
    this.prevHash = sha256Hex(text);
    this.nextLineSeq = lineSeq + 1;
    return { line_seq: lineSeq, ts, ...event, prev } as AuditLine;
  }

  /** The error that stopped this log, if a write failed. */
  get writeFailure(): ChoragenError | null {
    return this.failure;
  }

  /** After a failed write: drop the partial line so the file ends with a whole line. */
  private cutBack(): void {
    try {
      fs.ftruncateSync(this.fd, this.size);
    } catch {
      // Nothing more can be done here; audit:verify names the torn line and AuditLog.resume cuts it.
    }
  }

  /** Seals the log (a `log_closed` line, unless a write already failed) and closes it. */
  close(): void {
    if (this.closed) return;
    if (!this.failure && this.nextLineSeq > 0) {
      try {
        this.append({ type: 'log_closed', session_id: this.rootId });
      } catch {
        // the log ends at its last whole line, unsealed: as after a crash
      }
    }
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/**
 * The bytes of the line whose newline is the byte at `end - 1` (without that
 * newline), reading backwards in growing windows; null if that byte is not a
 * newline.
 */
export function lineEndingAt(fd: number, end: number): Buffer | null {
  if (end <= 0) return null;
  const nl = Buffer.alloc(1);
  fs.readSync(fd, nl, 0, 1, end - 1);
  if (nl[0] !== 0x0a) return null;
  const stop = end - 1;
  for (let window = Math.min(stop, 16 * 1024); ; window = Math.min(stop, window * 4)) {
    const buf = Buffer.alloc(window);
    fs.readSync(fd, buf, 0, window, stop - window);
    const prevNl = buf.lastIndexOf(0x0a);
    if (prevNl >= 0) return buf.subarray(prevNl + 1);
    if (window === stop) return buf;
  }
}

/** Where the complete lines of a log end (`completeBytes`) and the last of them. */
export function logTail(fd: number): { lastLine: Buffer | null; completeBytes: number; totalBytes: number } {
  const totalBytes = fs.fstatSync(fd).size;
  // The end of the last complete line is the last newline in the file.
  for (let window = Math.min(totalBytes, 16 * 1024); window > 0; window = Math.min(totalBytes, window * 4)) {
    const buf = Buffer.alloc(window);
    fs.readSync(fd, buf, 0, window, totalBytes - window);
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl >= 0) {
      const completeBytes = totalBytes - window + lastNl + 1;
      return { lastLine: lineEndingAt(fd, completeBytes), completeBytes, totalBytes };
    }
    if (window === totalBytes) break;
  }
  return { lastLine: null, completeBytes: 0, totalBytes };
}

function readLastLine(file: string): { lastLine: Buffer; completeBytes: number; totalBytes: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const tail = logTail(fd);
    if (!tail.lastLine) throw new ChoragenError(`cannot resume ${file}: it holds no complete line`);
    return { ...tail, lastLine: tail.lastLine };
  } finally {
    fs.closeSync(fd);
  }
}
