// Recomputes an audit log's hash chain and names the first line that breaks
// it (1-based). A changed byte shows up as a line whose hash no longer matches
// the next line's prev; a deleted, inserted or moved line as a line_seq out of
// order; a garbled or half-written line as invalid JSON.
//
// A hash chain cannot vouch for the content of its last line (nothing after
// it records its hash) beyond it being a well-formed line in sequence.
import fs from 'node:fs';
import path from 'node:path';
import { chainSeed, sha256Hex } from './log.js';

export type VerifyResult = { ok: true; lines: number } | { ok: false; line: number; reason: string };

interface RawLine {
  bytes: Buffer;
  /** false for a final segment with no newline after it. */
  terminated: boolean;
}

/** The file's lines as byte slices, read in chunks so a large log does not need to fit twice in memory. */
function* readLines(file: string): Generator<RawLine> {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
      let start = 0;
      for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
        yield { bytes: data.subarray(start, nl), terminated: true };
        start = nl + 1;
      }
      carry = data.subarray(start);
    }
    if (carry.length) yield { bytes: carry, terminated: false };
  } finally {
    fs.closeSync(fd);
  }
}

interface ChainFields {
  line_seq: number;
  prev: string;
}
interface ParsedLine extends ChainFields {
  type: string;
  version?: unknown;
  policy_hash?: unknown;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Full check: valid JSON object with the chain fields. */
function parseLine(bytes: Buffer): ParsedLine | null {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!Number.isInteger(o.line_seq) || typeof o.prev !== 'string' || !HEX64.test(o.prev)) return null;
  if (typeof o.type !== 'string' || typeof o.session_id !== 'string' || typeof o.ts !== 'string') return null;
  return o as unknown as ParsedLine;
}

const HEAD = Buffer.from('{"line_seq":');
const TAIL = Buffer.from(',"prev":"');
const TAIL_LEN = TAIL.length + 64 + 2; // ,"prev":"<64 hex>"}

/**
 * Fast path for a line as AuditLog writes it: line_seq first, prev last. A
 * middle line need not be parsed in full: any change to its bytes breaks the
 * next line's prev. Returns null when the line is not in that shape.
 */
export function chainFields(bytes: Buffer): ChainFields | null {
  if (bytes.length < HEAD.length + TAIL_LEN + 1 || bytes.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) return null;
  let seq = 0;
  let i = HEAD.length;
  for (; i < bytes.length && bytes[i] >= 0x30 && bytes[i] <= 0x39 && i < HEAD.length + 15; i++) seq = seq * 10 + (bytes[i] - 0x30);
  if (i === HEAD.length || bytes[i] !== 0x2c) return null;
  const t = bytes.length - TAIL_LEN;
  if (bytes.compare(TAIL, 0, TAIL.length, t, t + TAIL.length) !== 0) return null;
  if (bytes[bytes.length - 2] !== 0x22 || bytes[bytes.length - 1] !== 0x7d) return null;
  const prev = bytes.toString('latin1', t + TAIL.length, bytes.length - 2);
  return HEX64.test(prev) ? { line_seq: seq, prev } : null;
}

/** Where a log's chain breaks, and how much of it before that the chain still vouches for. */
export interface ChainBreak {
  /** The line to name (1-based), as audit:verify names it. */
  line: number;
  reason: string;
  /** Lines before the break that the chain vouches for (each one's hash is the next one's prev). */
  trusted: number;
  /** Where the trusted lines end in the file (bytes), and the SHA-256 of the last of them. */
  trustedBytes: number;
  trustedHash: string;
}

/**
 * Checks a log's hash chain one line at a time, in file order: the logic of
 * audit:verify, fed by it and by metrics ingest as they read. A line is
 * trusted once the next line vouches for it; the last line, which nothing
 * vouches for, is checked in full.
 */
export class ChainChecker {
  private count = 0;
  private prevHash = '';
  /** End offsets of the last two accepted lines, and the hash of the one before the last (the last's is prevHash): a trusted prefix ends one line before a break. */
  private lastEnd = 0;
  private beforeEnd = 0;
  private beforeHash = '';
  /** A line whose prev did not match: which line to blame waits for the next line. */
  private pending: { n: number; hash: string; wellFormed: boolean } | null = null;
  private broken: ChainBreak | null = null;

  /**
   * `logId`: the id the log is named after (`<id>.jsonl`), which its first
   * line must record: a copy of a log under another name would verify, and
   * count its run twice.
   */
  constructor(private readonly logId?: string) {}

  /** Lines accepted so far. */
  get lines(): number {
    return this.count;
  }

  get failure(): ChainBreak | null {
    return this.broken;
  }

  /**
   * Feeds the next whole line, buf[start, stop) without its newline, that
   * ends at file offset `end` (after the newline); `last` when no line
   * follows it. Returns false once the chain is broken: feed nothing more.
   */
  lineIn(buf: Buffer, start: number, stop: number, end: number, last: boolean): boolean {
    // The common case, a middle line as AuditLog writes it that carries the
    // expected prev, is checked in place: reading a large log is dominated by
    // the hashing, so nothing else here allocates.
    if (this.count > 0 && !last && !this.pending && !this.broken && this.inSequence(buf, start, stop)) {
      this.accept(sha256Hex(buf.subarray(start, stop)), end);
      return true;
    }
    return this.line(buf.subarray(start, stop), end, last);
  }

  /** buf[start, stop) starts `{"line_seq":<count>,` and ends `,"prev":"<the expected prev>"}`. */
  private inSequence(buf: Buffer, start: number, stop: number): boolean {
    const t = stop - TAIL_LEN;
    if (t - start < HEAD.length + 2) return false;
    for (let k = 0; k < HEAD.length; k++) if (buf[start + k] !== HEAD[k]) return false;
    let i = start + HEAD.length;
    let seq = 0;
    for (; buf[i]! >= 0x30 && buf[i]! <= 0x39 && i < start + HEAD.length + 15; i++) seq = seq * 10 + (buf[i]! - 0x30);
    if (i === start + HEAD.length || buf[i] !== 0x2c || seq !== this.count) return false;
    for (let k = 0; k < TAIL.length; k++) if (buf[t + k] !== TAIL[k]) return false;
    const prev = this.prevHash;
    for (let k = 0; k < 64; k++) if (buf[t + TAIL.length + k] !== prev.charCodeAt(k)) return false;
    return buf[stop - 2] === 0x22 && buf[stop - 1] === 0x7d;
  }

  /** Every check, in full, for a line in a buffer of its own. */
  private line(bytes: Buffer, end: number, last: boolean): boolean {
    if (this.broken) return false;
    if (this.pending) return this.blame(chainFields(bytes) ?? parseLine(bytes));
    const n = this.count + 1;
    if (bytes.length === 0) return this.fail(n, 'empty line');
    // The first line is read in full (it seeds the chain), and so is the last.
    const full = this.count === 0 || last;
    const line = full ? parseLine(bytes) : chainFields(bytes) ?? parseLine(bytes);
    if (!line) return this.fail(n, 'not a valid audit line (garbled JSON or missing line_seq/ts/session_id/type/prev)');
    if (line.line_seq !== this.count) {
      return this.fail(n, `line_seq is ${line.line_seq}, expected ${this.count}: a line was deleted, inserted or moved`);
    }
    const hash = sha256Hex(bytes);
    if (this.count === 0) {
      const first = line as ParsedLine;
      if (first.type !== 'run_started') return this.fail(1, 'the first line is not run_started');
      const run = (first as { session_id?: unknown }).session_id;
      if (this.logId !== undefined && run !== this.logId) {
        return this.fail(1, `it records run ${String(run)} but is named ${this.logId}.jsonl: a copied or renamed log, not counted twice`);
      }
      if (first.prev !== chainSeed(String(first.version), String(first.policy_hash))) {
        return this.fail(1, 'prev does not match the header hash of its version and policy_hash');
      }
    } else if (line.prev !== this.prevHash) {
      this.pending = { n, hash, wellFormed: full || parseLine(bytes) !== null };
      if (last) this.finish();
      return !this.broken;
    }
    this.accept(hash, end);
    return true;
  }

  private accept(hash: string, end: number): void {
    this.beforeHash = this.prevHash;
    this.prevHash = hash;
    this.beforeEnd = this.lastEnd;
    this.lastEnd = end;
    this.count++;
  }

  /** A line that is not terminated by a newline (the end of a file cut short). */
  truncated(): void {
    if (!this.broken && !this.pending) this.fail(this.count + 1, 'truncated final line');
    else this.finish();
  }

  /** No more lines: settles a pending mismatch; the break, if any. */
  finish(): ChainBreak | null {
    if (this.pending) this.blame(null);
    if (!this.broken && this.count === 0) this.fail(1, 'empty audit log (no run_started line)');
    return this.broken;
  }

  /**
   * Line `pending.n` does not carry the SHA-256 of the line before it.
   * Either its prev was changed or the line before it was: if the next line
   * still vouches for it, the change is in the line before.
   */
  private blame(after: ChainFields | null): boolean {
    const { n, hash, wellFormed } = this.pending!;
    this.pending = null;
    if (after?.prev === hash) return this.fail(n - 1, `changed after it was written: its SHA-256 does not match prev of line ${n}`);
    if (!wellFormed) return this.fail(n, 'not a valid audit line (garbled JSON)');
    return this.fail(n, `prev does not match the SHA-256 of line ${n - 1}`);
  }

  private fail(line: number, reason: string): false {
    // The line before the first bad one is vouched for by nothing.
    const trusted = Math.max(0, this.count - 1);
    this.broken = { line, reason, trusted, trustedBytes: trusted === 0 ? 0 : this.beforeEnd, trustedHash: trusted === 0 ? '' : this.beforeHash };
    return false;
  }
}

/** The id a log is named after: `<id>.jsonl`. */
export function logIdOf(file: string): string {
  return path.basename(file, '.jsonl');
}

export function verifyAuditFile(file: string): VerifyResult {
  const lines = readLines(file);
  const next = (): RawLine | undefined => {
    const r = lines.next();
    return r.done ? undefined : r.value;
  };
  const chain = new ChainChecker(logIdOf(file));
  let end = 0;
  try {
    // One line of lookahead: the last line is checked in full.
    for (let raw = next(), after = next(); raw; raw = after, after = next()) {
      if (!raw.terminated) {
        chain.truncated();
        break;
      }
      end += raw.bytes.length + 1;
      if (!chain.lineIn(raw.bytes, 0, raw.bytes.length, end, !after)) break;
    }
  } finally {
    lines.return(undefined);
  }
  const broken = chain.finish();
  return broken ? { ok: false, line: broken.line, reason: broken.reason } : { ok: true, lines: chain.lines };
}
