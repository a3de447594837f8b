// Audit logs cut short after the fact (issue 16 item 5). AuditLog writes each
// line in one write and takes back a line it could not finish, so a log that
// ends part way through a line while no process writes it any more, or a log
// that is empty, was truncated afterwards. Ingest takes the whole lines before
// the cut (the last of them vouched for by nothing, as after a crash); every
// metrics command says so, in the words of a broken chain, so nobody reads a
// shortened log unawares. A log still being written is left alone.
import fs from 'node:fs';
import { logTail } from '../audit/log.js';
import { writerAlive } from '../audit/process-liveness.js';
import type { DamagedLog } from './ingest.js';

/** An empty log younger than this may be one AuditLog.open is writing its first line into. */
const FRESH_MS = 3000;

/** The logs of `files` cut short, except those already in `known` (a broken chain says enough). */
export function cutLogs(files: readonly string[], known: readonly DamagedLog[]): DamagedLog[] {
  const reported = new Set(known.map((d) => d.file));
  const out: DamagedLog[] = [];
  for (const file of files) {
    if (reported.has(file)) continue;
    const cut = cutLog(file);
    if (cut) out.push(cut);
  }
  return out;
}

function cutLog(file: string): DamagedLog | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null; // removed meanwhile
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.size === 0) {
      return Date.now() - stat.mtimeMs < FRESH_MS ? null : { file, line: 1, reason: 'empty audit log (no run_started line)', ingestedLines: 0 };
    }
    const tail = logTail(fd);
    if (tail.completeBytes === tail.totalBytes) return null;
    const writer = headerWriter(fd);
    if (writer && writerAlive(writer.pid, writer.ts)) return null; // its next write finishes the line
    if (!tail.lastLine) return { file, line: 1, reason: 'truncated final line', ingestedLines: 0 };
    const seq = lineSeqOf(tail.lastLine);
    // A garbled last whole line breaks the chain: ingest reports that one.
    return seq === null ? null : { file, line: seq + 2, reason: 'truncated final line', ingestedLines: seq + 1 };
  } finally {
    fs.closeSync(fd);
  }
}

/** The process that wrote the log, from its run_started line. */
function headerWriter(fd: number): { pid: number; ts: string } | null {
  const buf = Buffer.alloc(64 * 1024);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(0x0a);
  try {
    const v = JSON.parse(buf.toString('utf8', 0, nl < 0 ? n : nl)) as { pid?: unknown; ts?: unknown };
    return typeof v.pid === 'number' && typeof v.ts === 'string' ? { pid: v.pid, ts: v.ts } : null;
  } catch {
    return null;
  }
}

function lineSeqOf(line: Buffer): number | null {
  try {
    const seq = (JSON.parse(line.toString('utf8')) as { line_seq?: unknown }).line_seq;
    return Number.isInteger(seq) && (seq as number) >= 0 ? (seq as number) : null;
  } catch {
    return null;
  }
}
