// Recomputes an audit log's hash chain and names the first line that breaks
// it (1-based). A changed byte shows up as a line whose hash no longer matches
// the next line's prev; a deleted, inserted or moved line as a line_seq out of
// order; a garbled or half-written line as invalid JSON.
//
// A hash chain cannot vouch for the content of its last line (nothing after
// it records its hash) beyond it being a well-formed line in sequence.
import fs from 'node:fs';
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
function chainFields(bytes: Buffer): ChainFields | null {
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

export function verifyAuditFile(file: string): VerifyResult {
  const lines = readLines(file);
  const next = (): RawLine | undefined => {
    const r = lines.next();
    return r.done ? undefined : r.value;
  };
  let count = 0;
  let prevHash = '';
  try {
    // One line of lookahead: the last line is checked in full, and a broken
    // link is blamed on the line the next one no longer vouches for.
    for (let raw = next(), after = next(); raw; raw = after, after = next()) {
      const n = count + 1;
      if (!raw.terminated) return { ok: false, line: n, reason: 'truncated final line' };
      if (raw.bytes.length === 0) return { ok: false, line: n, reason: 'empty line' };
      // The first line is read in full (it seeds the chain), and so is the
      // last: no later line vouches for it.
      const full = count === 0 || !after;
      const line = full ? parseLine(raw.bytes) : chainFields(raw.bytes) ?? parseLine(raw.bytes);
      if (!line) return { ok: false, line: n, reason: 'not a valid audit line (garbled JSON or missing line_seq/ts/session_id/type/prev)' };
      if (line.line_seq !== count) {
        return { ok: false, line: n, reason: `line_seq is ${line.line_seq}, expected ${count}: a line was deleted, inserted or moved` };
      }
      const hash = sha256Hex(raw.bytes);
      if (count === 0) {
        const first = line as ParsedLine;
        if (first.type !== 'run_started') return { ok: false, line: 1, reason: 'the first line is not run_started' };
        if (first.prev !== chainSeed(String(first.version), String(first.policy_hash))) {
          return { ok: false, line: 1, reason: 'prev does not match the header hash of its version and policy_hash' };
        }
      } else if (line.prev !== prevHash) {
        // Either this line's prev was changed or the line before it was. If the
        // next line still vouches for this one, the change is in the line before.
        const vouched = after?.terminated && (chainFields(after.bytes) ?? parseLine(after.bytes))?.prev === hash;
        if (vouched) {
          return { ok: false, line: count, reason: `changed after it was written: its SHA-256 does not match prev of line ${n}` };
        }
        if (!parseLine(raw.bytes)) return { ok: false, line: n, reason: 'not a valid audit line (garbled JSON)' };
        return { ok: false, line: n, reason: `prev does not match the SHA-256 of line ${count}` };
      }
      prevHash = hash;
      count = n;
    }
  } finally {
    lines.return(undefined);
  }
  if (count === 0) return { ok: false, line: 1, reason: 'empty audit log (no run_started line)' };
  return { ok: true, lines: count };
}
