// A command's output, kept to its last bytes. Test runners and compilers
// print the verdict at the end, so the tail is what a reader needs; memory
// stays at the cap plus one chunk however much the command writes.

export interface CapturedOutput {
  /** The kept tail, decoded as UTF-8 (a character cut in half at the start is dropped). */
  text: string;
  /** Bytes the command wrote to this stream. */
  totalBytes: number;
  /** Bytes cut from the start (totalBytes minus the bytes kept). */
  cutBytes: number;
}

export class OutputTail {
  private chunks: Buffer[] = [];
  private held = 0;
  private total = 0;

  constructor(private readonly capBytes: number) {
    if (!Number.isInteger(capBytes) || capBytes < 0) throw new RangeError(`output cap must be a byte count, got ${capBytes}`);
  }

  get totalBytes(): number {
    return this.total;
  }

  /** Bytes currently held in memory (at most the cap plus one chunk). */
  get heldBytes(): number {
    return this.held;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (chunk.length >= this.capBytes) {
      // Copy, so the kept slice does not pin the whole chunk.
      this.chunks = this.capBytes === 0 ? [] : [Buffer.from(chunk.subarray(chunk.length - this.capBytes))];
      this.held = this.capBytes;
      return;
    }
    this.chunks.push(chunk);
    this.held += chunk.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.capBytes) {
      this.held -= this.chunks.shift()!.length;
    }
  }

  result(): CapturedOutput {
    let kept = Buffer.concat(this.chunks, this.held);
    if (kept.length > this.capBytes) kept = kept.subarray(kept.length - this.capBytes);
    const cutBytes = this.total - kept.length;
    if (cutBytes > 0) {
      // Skip UTF-8 continuation bytes left over from a character that began before the cut.
      let start = 0;
      while (start < 3 && start < kept.length && (kept[start]! & 0xc0) === 0x80) start++;
      kept = kept.subarray(start);
    }
    return { text: kept.toString('utf8'), totalBytes: this.total, cutBytes: this.total - kept.length };
  }
}

/** One note per stream that lost bytes, saying how much was cut and how much is shown. */
export function cutNotes(streams: Record<string, CapturedOutput>): string[] {
  return Object.entries(streams)
    .filter(([, out]) => out.cutBytes > 0)
    .map(
      ([name, out]) =>
        `${name}: the first ${out.cutBytes} of ${out.totalBytes} bytes were cut; the last ${out.totalBytes - out.cutBytes} are shown`,
    );
}
