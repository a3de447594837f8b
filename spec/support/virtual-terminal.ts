// A small terminal for specs of what is drawn: printable characters with
// auto-wrap at the width, CR, LF (as CR LF, like a tty's onlcr), cursor up
// (never above the top of the screen) and down (never below its bottom),
// erase-line and erase-below (which, from the top-left corner, first pushes
// the screen into the scrollback, as tmux does). Rows that scroll off
// the top stay in the scrollback, as on a real terminal: a view that cannot
// erase what it drew leaves copies there. shrink() narrows or shortens the
// terminal as tmux does, rewrapping the screen's rows before the program hears
// of it, so rows pushed off the top are beyond any erase.
export class VirtualTerminal {
  /** Every row ever drawn: scrollback, then the screen. */
  private readonly buffer: string[][] = [[]];
  private row = 0;
  private col = 0;
  /** First row of the screen; it only moves down (scrollback never comes back). */
  private top = 0;
  private written = '';
  /** Rows a full-screen erase pushed into the scrollback (tmux's scroll-on-clear). */
  readonly scrolledByClear: string[] = [];

  constructor(public columns: number, public rows: number) {}

  private made: (NodeJS.WritableStream & { columns: number; rows: number; isTTY: true }) | null = null;

  /** A stream the view can write to: has the size of this terminal, and emits 'resize' like a tty. */
  get stream(): NodeJS.WritableStream & { columns: number; rows: number; isTTY: true } {
    if (this.made) return this.made;
    const term = this;
    const listeners = new Map<string, Array<() => void>>();
    return (this.made = {
      isTTY: true,
      get columns() { return term.columns; },
      get rows() { return term.rows; },
      write(chunk: string | Uint8Array) { term.write(String(chunk)); return true; },
      on(event: string, fn: () => void) { listeners.set(event, [...(listeners.get(event) ?? []), fn]); return this; },
      off(event: string, fn: () => void) { listeners.set(event, (listeners.get(event) ?? []).filter((f) => f !== fn)); return this; },
      emit(event: string) { for (const fn of listeners.get(event) ?? []) fn(); return true; },
    } as any);
  }

  /** Everything written, raw. */
  get raw(): string {
    return this.written;
  }

  write(text: string): void {
    this.written += text;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\x1b') {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(text.slice(i));
        if (!m) throw new Error(`unsupported escape at ${JSON.stringify(text.slice(i, i + 8))}`);
        i += m[0].length - 1;
        const n = m[1] === '' ? 1 : Number(m[1]);
        if (m[2] === 'A') this.row = Math.max(this.top, this.row - n);
        else if (m[2] === 'B') {
          // Cursor down stops at the bottom of the screen; it never scrolls.
          this.row = Math.min(this.row + n, this.top + this.rows - 1);
          while (this.buffer.length <= this.row) this.buffer.push([]);
        } else if (m[2] === 'K' && m[1] === '2') this.buffer[this.row] = [];
        else if (m[2] === 'J' && (m[1] === '' || n === 0)) {
          // From the top-left corner this clears the whole screen: like tmux, push it into the scrollback first.
          if (this.row === this.top && this.col === 0) {
            for (const r of this.buffer.slice(this.top)) this.scrolledByClear.push(r.join(''));
          }
          this.buffer[this.row]!.length = this.col;
          this.buffer.length = this.row + 1;
        } else throw new Error(`unsupported escape ${JSON.stringify(m[0])}`);
      } else if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.newline();
      else {
        if (this.col >= this.columns) this.newline();
        this.buffer[this.row]![this.col++] = ch;
      }
    }
  }

  /**
   * The user makes the terminal smaller: every row on the screen longer than
   * the new width is rewrapped onto more rows (the cursor moves with its row),
   * and whatever no longer fits above the cursor goes into the scrollback.
   * Emit 'resize' on the stream afterwards, as the tty would.
   */
  shrink(columns: number, rows: number): void {
    if (columns > this.columns || rows > this.rows) throw new Error('shrink() only makes the terminal smaller');
    const screen: string[][] = [];
    let cursor = 0;
    this.buffer.slice(this.top).forEach((r, i) => {
      const pieces: string[][] = [];
      for (let at = 0; at < Math.max(1, r.length); at += columns) pieces.push(r.slice(at, at + columns));
      if (i === this.row - this.top) cursor = screen.length + Math.min(Math.floor(this.col / columns), pieces.length - 1);
      screen.push(...pieces);
    });
    this.buffer.length = this.top;
    this.buffer.push(...screen);
    this.row = this.top + cursor;
    this.col = this.col % columns;
    this.columns = columns;
    this.rows = rows;
    this.top = Math.max(this.top, this.row - rows + 1);
  }

  private newline(): void {
    this.row++;
    this.col = 0;
    if (this.row >= this.buffer.length) this.buffer.push([]);
    this.top = Math.max(this.top, this.buffer.length - this.rows);
  }

  /** Scrollback (with what full-screen erases pushed into it) and screen, one string per row. */
  lines(): string[] {
    return [...this.scrolledByClear, ...this.buffer.map((r) => Array.from(r, (c) => c ?? ' ').join('').trimEnd())];
  }

  /** The rows now on the screen. */
  screen(): string[] {
    return this.lines().slice(this.top, this.top + this.rows);
  }
}
