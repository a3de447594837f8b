// Reading helpers for the file tools: text detection, line scanning and
// counting, on handles the authority opened (capabilities/fs/authority.ts:
// no symlink followed, no FIFO waited on, no hard link read through).

import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ToolFailure } from '../../policy/errors.js';
import type { AuthorizedPath } from '../capability.js';
import { entryStats, openFile, readAll, type OpenedFile } from './authority.js';
import { fsError, symlinkRefusal } from './errors.js';

/** How much of a file decides whether it is text. */
export const BINARY_SAMPLE_BYTES = 8192;
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * The entry at an authorized path, not followed: a missing one is a
 * ToolFailure saying `missing`, a symlink is refused.
 */
export function existingEntry(target: AuthorizedPath, doing: string, missing: string): BigIntStats {
  let stats: BigIntStats | null;
  try {
    stats = entryStats(target);
  } catch (err) {
    throw fsError(err, target.rel, doing);
  }
  if (stats === null) throw new ToolFailure(missing);
  if (stats.isSymbolicLink()) throw symlinkRefusal(target.rel);
  return stats;
}

export async function readSample(handle: FileHandle): Promise<Uint8Array> {
  const buffer = Buffer.alloc(BINARY_SAMPLE_BYTES);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  return buffer.subarray(0, bytesRead);
}

/** Text or not: a NUL byte, or more than 10% of the sample not decodable as UTF-8. */
export function looksBinary(sample: Uint8Array): boolean {
  if (sample.length === 0) return false;
  if (sample.includes(0)) return true;
  // stream: true leaves a multibyte character cut by the sample's end pending, not invalid.
  const text = new TextDecoder('utf-8').decode(sample, { stream: true });
  let invalid = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) invalid += 1;
  return invalid > Math.max(4, text.length / 10);
}

export interface ScannedLine {
  /** 1-based */
  number: number;
  /** at most `keepChars` characters, without the line ending */
  text: string;
  /** characters beyond `keepChars` that were not kept */
  droppedChars: number;
}

/**
 * Splits decoded text, fed in pieces, into lines (`\n` or `\r\n`). At most
 * `keepChars` characters of a line are kept, so a huge minified line does not
 * fill memory. Shared by the streamed and the in-memory scan so both cut alike.
 */
class LineSplitter {
  lineNumber = 0;
  stopped = false;
  private partial = '';
  private dropped = 0;

  constructor(
    private readonly keepChars: number,
    private readonly visit: (line: ScannedLine) => boolean | void,
  ) {}

  feed(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1 && !this.stopped; nl = chunk.indexOf('\n', start)) {
      this.append(chunk.slice(start, nl));
      start = nl + 1;
      this.emit();
    }
    if (!this.stopped) this.append(chunk.slice(start));
  }

  /** After the last piece. A last line without a final newline still counts; an empty file has none. */
  finish(seenAny: boolean): void {
    if (!this.stopped && seenAny && (this.partial.length > 0 || this.dropped > 0)) this.emit();
  }

  private append(piece: string): void {
    const room = this.keepChars - this.partial.length;
    if (piece.length <= room) this.partial += piece;
    else {
      this.partial += piece.slice(0, Math.max(room, 0));
      this.dropped += piece.length - Math.max(room, 0);
    }
  }

  private emit(): void {
    this.lineNumber += 1;
    const { partial, dropped } = this;
    const text = dropped === 0 && partial.endsWith('\r') ? partial.slice(0, -1) : partial;
    if (this.visit({ number: this.lineNumber, text, droppedChars: dropped }) === false) this.stopped = true;
    this.partial = '';
    this.dropped = 0;
  }
}

/**
 * Stream the file's lines (UTF-8, `\n` or `\r\n`) from the start. At most
 * `keepChars` characters of a line are kept, so a huge minified line does not
 * fill memory. `visit` returns false to stop. Returns the lines visited.
 */
export async function scanLines(
  handle: FileHandle,
  keepChars: number,
  visit: (line: ScannedLine) => boolean | void,
  signal?: AbortSignal,
  /** Awaited after each chunk read (search_files matches what it queued there); false stops the scan. */
  afterChunk?: () => Promise<boolean>,
): Promise<number> {
  const decoder = new TextDecoder('utf-8');
  const buffer = Buffer.alloc(READ_CHUNK_BYTES);
  const lines = new LineSplitter(keepChars, visit);
  let position = 0;
  while (!lines.stopped) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    lines.feed(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
    if (afterChunk && !lines.stopped && !(await afterChunk())) lines.stopped = true;
  }
  if (!lines.stopped) {
    lines.feed(decoder.decode());
    lines.finish(position > 0);
  }
  return lines.lineNumber;
}

/** scanLines on a file already read into memory: the same lines, cut the same way. */
export function scanLinesIn(
  bytes: Uint8Array,
  keepChars: number,
  visit: (line: ScannedLine) => boolean | void,
  signal?: AbortSignal,
): number {
  const decoder = new TextDecoder('utf-8');
  const lines = new LineSplitter(keepChars, visit);
  // Decoded a chunk at a time, so a window near the start does not decode the whole file.
  for (let at = 0; at < bytes.length && !lines.stopped; at += READ_CHUNK_BYTES) {
    signal?.throwIfAborted();
    lines.feed(decoder.decode(bytes.subarray(at, at + READ_CHUNK_BYTES), { stream: true }));
  }
  if (!lines.stopped) {
    lines.feed(decoder.decode());
    lines.finish(bytes.length > 0);
  }
  return lines.lineNumber;
}

function newlinesIn(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) count += 1;
  return count;
}

/** Number of lines, counted on raw bytes (a last line without `\n` counts). */
export async function countLines(handle: FileHandle, signal?: AbortSignal): Promise<number> {
  const buffer = Buffer.alloc(READ_CHUNK_BYTES);
  let position = 0;
  let lines = 0;
  let lastByte = 0x0a;
  for (;;) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const chunk = buffer.subarray(0, bytesRead);
    lines += newlinesIn(chunk);
    lastByte = chunk[bytesRead - 1]!;
  }
  return lastByte === 0x0a ? lines : lines + 1;
}

/** countLines on a file already read into memory. */
export function countLinesIn(bytes: Uint8Array): number {
  const lines = newlinesIn(bytes);
  return bytes.length === 0 || bytes[bytes.length - 1] === 0x0a ? lines : lines + 1;
}

export async function readUtf8(handle: FileHandle, size: number): Promise<string | null> {
  const bytes = await readAll(handle, size);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The current content of a file, for a preview; a reason instead when it cannot be shown as text. */
export type CurrentContent = { kind: 'missing' } | { kind: 'text'; text: string } | { kind: 'unshown'; reason: string };

export async function readCurrentText(target: AuthorizedPath, maxBytes: number): Promise<CurrentContent> {
  let opened: OpenedFile;
  try {
    if (entryStats(target) === null) return { kind: 'missing' };
    opened = await openFile(target);
  } catch (err) {
    return { kind: 'unshown', reason: fsError(err, target.rel, 'reading').message };
  }
  const { handle, size } = opened;
  try {
    if (size > maxBytes) return { kind: 'unshown', reason: `${size} bytes, too large to diff` };
    const text = await readUtf8(handle, size);
    if (text === null || text.slice(0, BINARY_SAMPLE_BYTES).includes('\0')) {
      return { kind: 'unshown', reason: `binary file, ${size} bytes` };
    }
    return { kind: 'text', text };
  } finally {
    await handle.close();
  }
}
