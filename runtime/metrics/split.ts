// Splits an audit log by line type before DuckDB parses it, so that each
// line is parsed once for the table it feeds rather than once per table.
//
// Tool calls are nearly all of a log's lines and are read by DuckDB from the
// log itself. The split copies the rest into two small files: the model_call
// lines, and the other lines (session-level, approvals, notices). Reading the
// whole log a second and third time for those cost more than the tool calls'
// own read.
//
// The split decides from the fixed head AuditLog writes
// (`{"line_seq":N,"ts":"…","session_id":…,"type":"…"`, no key repeated) and
// never guesses: a line whose head is not exactly that shape is copied to
// both files, and DuckDB reads its real type in each. So a line only leaves
// DuckDB's sight when its head names it a tool_call, and DuckDB reads those
// from the log.
//
// The same pass checks the log's hash chain (audit/verify.ts), so a damaged
// log is found by the one read ingest makes of it anyway; it stops at the
// first break.
import fs from 'node:fs';
import { type ChainBreak, ChainChecker } from '../audit/verify.js';

/** What a line's head says: its type, 'other' for any other plain type, 'unknown' when the head is not AuditLog's. */
export type HeadType = 'tool_call' | 'model_call' | 'other' | 'unknown';

const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const LINE_SEQ = bytes('{"line_seq":');
const TS = bytes(',"ts":');
const SESSION_ID = bytes(',"session_id":');
const NULL = bytes('null');
const TYPE = bytes(',"type":');
const TOOL_CALL = bytes('"tool_call"');
const MODEL_CALL = bytes('"model_call"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

/** Index after `lit` when buf[i..] starts with it, else -1. */
function expect(buf: Uint8Array, i: number, end: number, lit: Uint8Array): number {
  if (i < 0 || i + lit.length > end) return -1;
  for (let k = 0; k < lit.length; k++) if (buf[i + k] !== lit[k]) return -1;
  return i + lit.length;
}

/** Index after a JSON string's closing quote, for a string without escapes that starts at buf[i]; else -1. */
function plainString(buf: Uint8Array, i: number, end: number): number {
  if (i < 0 || buf[i] !== QUOTE) return -1;
  for (let k = i + 1; k < end; k++) {
    const c = buf[k];
    if (c === QUOTE) return k + 1;
    if (c === BACKSLASH) return -1;
  }
  return -1;
}

/**
 * The type a line (buf[start, end)) names, when its head is exactly
 * AuditLog's: `{"line_seq":<digits>,"ts":"<plain>","session_id":<"plain"|null>,"type":"<plain>"`
 * followed by `,` or `}` ("plain": a string without escapes, so the bytes are
 * the value).
 */
export function headType(buf: Uint8Array, start: number, end: number): HeadType {
  let i = expect(buf, start, end, LINE_SEQ);
  if (i < 0) return 'unknown';
  const digits = i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  if (i === digits) return 'unknown';
  i = plainString(buf, expect(buf, i, end, TS), end);
  i = expect(buf, i, end, SESSION_ID);
  if (i < 0) return 'unknown';
  i = buf[i] === QUOTE ? plainString(buf, i, end) : expect(buf, i, end, NULL);
  const type = expect(buf, i, end, TYPE);
  const after = plainString(buf, type, end);
  if (after < 0 || after >= end || (buf[after] !== COMMA && buf[after] !== CLOSE_BRACE)) return 'unknown';
  if (expect(buf, type, after, TOOL_CALL) === after) return 'tool_call';
  if (expect(buf, type, after, MODEL_CALL) === after) return 'model_call';
  return 'other';
}

/** Buffered appends to one file, through a buffer the caller owns (and reuses). */
class LineSink {
  private readonly fd: number;
  private used = 0;

  constructor(
    file: string,
    private readonly buf: Buffer,
  ) {
    this.fd = fs.openSync(file, 'w', 0o600); // in the batch's private temp dir; a retry rewrites it
  }

  add(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.used + n > this.buf.length) this.flush();
    if (n > this.buf.length) {
      this.write(src, start, end);
    } else {
      src.copy(this.buf, this.used, start, end);
      this.used += n;
    }
  }

  flush(): void {
    this.write(this.buf, 0, this.used);
    this.used = 0;
  }

  private write(src: Buffer, start: number, end: number): void {
    for (let off = start; off < end; ) off += fs.writeSync(this.fd, src, off, end - off);
  }

  close(): void {
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
    }
  }
}

/** Lines of each head type the split saw. */
export type SplitCounts = Record<HeadType, number>;

/**
 * The buffers a split reads and writes through, made once per batch: fresh
 * memory costs a page fault per page on first touch, which per log would cost
 * as much as the reading itself.
 */
export class SplitBuffers {
  chunk = Buffer.allocUnsafe(8 << 20);
  readonly model = Buffer.allocUnsafe(1 << 20);
  readonly other = Buffer.allocUnsafe(1 << 20);
}

/** One log to split: its bytes [0, toByte) and the two files to write (null: check the chain only). */
export interface SplitJob {
  file: string;
  fromByte: number;
  toByte: number;
  modelFile: string | null;
  otherFile: string | null;
  /** The id the log is named after, which its first line must record (ChainChecker). */
  logId?: string;
}

/** What the split of one log found: the lines of each head type, and where its chain breaks (null: intact). */
export interface SplitResult {
  counts: SplitCounts;
  broken: ChainBreak | null;
}

/**
 * Calls `line(buf, start, end, offset)` for each whole line of the first
 * `toByte` bytes of the open file (end: the newline's index; offset: where
 * the line starts in the file) until it returns true. Reads through
 * `buffers.chunk`, doubling it for a line longer than the chunk.
 */
function eachLine(
  fd: number,
  toByte: number,
  buffers: { chunk: Buffer },
  line: (buf: Buffer, start: number, end: number, offset: number) => boolean | void,
): void {
  let chunk = buffers.chunk;
  let at = 0; // file offset of chunk[0]
  while (at < toByte) {
    const want = Math.min(chunk.length, toByte - at);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(fd, chunk, got, want - got, at + got);
      if (n === 0) break;
      got += n;
    }
    let pos = 0;
    while (pos < got) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl < 0 || nl >= got) break;
      if (line(chunk, pos, nl, at + pos) === true) return;
      pos = nl + 1;
    }
    if (pos === 0) {
      if (got < chunk.length) return; // no whole line left (the file shrank under us)
      chunk = buffers.chunk = Buffer.allocUnsafe(chunk.length * 2);
      continue;
    }
    at += pos;
    if (got < want) return;
  }
}

/**
 * Copies the whole lines of the first `toByte` bytes of `file`: to
 * `modelFile` the model_call lines that start at or after `fromByte`; to
 * `otherFile` every line whose head names no call, from the start (the
 * session-level lines before `fromByte` are needed to recompute sessions);
 * to both, the lines of unknown head. Checks the hash chain of those lines
 * as it goes, and stops at a break.
 */
export function splitLog({ file, fromByte, toByte, modelFile, otherFile, logId }: SplitJob, buffers = new SplitBuffers()): SplitResult {
  const counts: SplitCounts = { tool_call: 0, model_call: 0, other: 0, unknown: 0 };
  const chain = new ChainChecker(logId);
  const fd = fs.openSync(file, 'r');
  let model: LineSink | null = null;
  let other: LineSink | null = null;
  try {
    model = modelFile === null ? null : new LineSink(modelFile, buffers.model);
    other = otherFile === null ? null : new LineSink(otherFile, buffers.other);
    eachLine(fd, toByte, buffers, (buf, start, end, offset) => {
      const ends = offset + (end - start) + 1;
      if (!chain.lineIn(buf, start, end, ends, ends === toByte)) return true;
      const type = headType(buf, start, end);
      counts[type]++;
      if ((type === 'model_call' || type === 'unknown') && offset >= fromByte) model?.add(buf, start, end + 1);
      if (type === 'other' || type === 'unknown') other?.add(buf, start, end + 1);
    });
  } finally {
    fs.closeSync(fd);
    try {
      model?.close();
    } finally {
      other?.close();
    }
  }
  return { counts, broken: chain.finish() };
}

/** Splits each log of a batch, through one set of buffers. */
export function splitLogs(jobs: SplitJob[]): SplitResult[] {
  const buffers = new SplitBuffers();
  return jobs.map((job) => splitLog(job, buffers));
}

/**
 * The root_id of the log's first session_started line: the tree its sessions
 * belong to (the log's own id, except in a resumed run's log). That line is
 * at the head, after run_started, so this reads a few KiB; null when the
 * first `toByte` bytes hold none. Known before DuckDB reads the log, so the
 * tool calls can be read while the split runs.
 */
export function treeRootOf(file: string, toByte: number): string | null {
  const fd = fs.openSync(file, 'r');
  try {
    let root: string | null = null;
    eachLine(fd, toByte, { chunk: Buffer.allocUnsafe(64 * 1024) }, (buf, start, end) => {
      root = sessionStartedRoot(buf.toString('utf8', start, end)) ?? null;
      return root !== null;
    });
    return root;
  } finally {
    fs.closeSync(fd);
  }
}

/** A session_started line's root_id; undefined for any other line, or a garbled one (which DuckDB skips too). */
function sessionStartedRoot(line: string): string | undefined {
  if (!line.includes('"session_started"')) return undefined;
  try {
    const event = JSON.parse(line) as { type?: unknown; root_id?: unknown };
    return event.type === 'session_started' && typeof event.root_id === 'string' ? event.root_id : undefined;
  } catch {
    return undefined;
  }
}
