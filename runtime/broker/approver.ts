// Human checkpoints for `approve` decisions. Prompts of parallel sessions are
// serialized (one question on the terminal at a time), and the live view
// steps aside while one is open, so the question, the rule, the path and the
// change stay on the screen until they are answered. The change is shown
// through the terminal sanitizer, byte for byte: a carriage return or an
// escape sequence in it is printed as `\r` or `\x1b[…`, never obeyed, so no
// line of it can be hidden. A change longer than the screen is shown a page
// at a time, and "y" counts only once the last page is on the screen.
// --auto-approve says yes; with no terminal and no flag the answer is no; a
// change whose preview cannot be made is refused without asking; a timeout
// says no; a session stopped while asking (Ctrl-C) gets no at once.
import { createInterface } from 'node:readline';
import { termLine, termText } from '../terminal/text.js';
import { rowsOf, splitWidth } from '../terminal/width.js';

export interface ApprovalRequest {
  sessionLabel: string;
  tool: string;
  path: string;
  reason: string;
  rule: string;
  preview?: () => Promise<string>;
}

/** `unshown`: the change could not be shown (its preview failed), so it was never put to the human. */
export interface ApprovalAnswer { answer: 'yes' | 'no'; by: 'terminal' | 'auto-approve' | 'no-terminal' | 'timeout' | 'interrupted' | 'unshown' }

/** Whatever else draws on the terminal (the live view): paused while a question is open. */
export interface PromptHost {
  pause(): void;
  resume(): void;
}

export interface ApproverOptions {
  autoApprove: boolean;
  interactive: boolean;
  timeoutMs: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  host?: PromptHost;
}

type Screen = NodeJS.WritableStream & { columns?: number; rows?: number };

/** A page of the change, and where it sits in the whole. */
interface Page { lines: string[]; from: number; to: number; total: number; last: boolean }

export class Approver {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly opts: ApproverOptions) {}

  ask(req: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    if (this.opts.autoApprove) return Promise.resolve({ answer: 'yes', by: 'auto-approve' });
    if (!this.opts.interactive) return Promise.resolve({ answer: 'no', by: 'no-terminal' });
    const turn = this.queue.then(() => this.prompt(req, signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async prompt(req: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    if (signal.aborted) return { answer: 'no', by: 'interrupted' };
    const out = (this.opts.output ?? process.stderr) as Screen;
    const header = [
      '── approval needed ──',
      `${termLine(req.sessionLabel)} wants ${termLine(req.tool)} on ${termLine(req.path)}`,
      `rule ${termLine(req.rule)}: ${termLine(req.reason)}`,
    ];
    let preview = '';
    try {
      if (req.preview) preview = await req.preview();
    } catch (err) {
      // A yes to a change nobody saw is no approval: say why and answer no without asking.
      if (signal.aborted) return { answer: 'no', by: 'interrupted' };
      out.write(`\n${header.join('\n')}\n   the change cannot be shown (${termLine((err as Error)?.message ?? 'no preview')}); refused\n`);
      return { answer: 'no', by: 'unshown' };
    }
    if (signal.aborted) return { answer: 'no', by: 'interrupted' };
    const pages = paginate(preview === '' ? [] : termText(preview.replace(/\n$/, '')).split('\n'), header, out);
    this.opts.host?.pause();
    const rl = createInterface({ input: this.opts.input ?? process.stdin, output: out, terminal: false });
    try {
      for (let i = 0; ; i++) {
        const page = pages[Math.min(i, pages.length - 1)]!;
        out.write(`\n${header.join('\n')}\n`);
        if (page.lines.length) out.write(`${page.lines.join('\n')}\n`);
        const reply = await this.question(rl, out, page, signal);
        if (reply.kind === 'answer') return reply.answer;
        if (reply.kind === 'early-yes') out.write('   (y counts once the whole change has been shown)\n');
      }
    } finally {
      rl.close();
      this.opts.host?.resume();
    }
  }

  /** One question; resolves on a line, the timeout, a stop or the end of input. */
  private question(rl: ReturnType<typeof createInterface>, out: Screen, page: Page, signal: AbortSignal):
    Promise<{ kind: 'answer'; answer: ApprovalAnswer } | { kind: 'next' } | { kind: 'early-yes' }> {
    const secs = Math.round(this.opts.timeoutMs / 1000);
    const text = page.last
      ? `   allow? [y/N] (no after ${secs}s) `
      : `   lines ${page.from}-${page.to} of ${page.total} shown · Enter: next page · n: refuse › `;
    return new Promise((resolve) => {
      const done = (value: Parameters<typeof resolve>[0]) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        rl.off('close', onClose);
        resolve(value);
      };
      // Without a typed line the cursor is still on the question: end that line first.
      const unanswered = (by: ApprovalAnswer['by']) => {
        out.write(`(no: ${by})\n`);
        done({ kind: 'answer', answer: { answer: 'no', by } });
      };
      const timer = setTimeout(() => unanswered('timeout'), this.opts.timeoutMs);
      timer.unref();
      const onAbort = () => unanswered('interrupted');
      const onClose = () => unanswered('terminal');
      signal.addEventListener('abort', onAbort, { once: true });
      rl.once('close', onClose);
      rl.question(text, (line) => {
        const said = line.trim();
        if (/^y(es)?$/i.test(said)) done(page.last ? { kind: 'answer', answer: { answer: 'yes', by: 'terminal' } } : { kind: 'early-yes' });
        else if (said === '' && !page.last) done({ kind: 'next' });
        else done({ kind: 'answer', answer: { answer: 'no', by: 'terminal' } });
      });
    });
  }
}

/**
 * The change in pages that fit the screen under the header and above the
 * question; one page when the output is not a terminal (its size is unknown).
 */
function paginate(lines: string[], header: string[], out: Screen): Page[] {
  if (!out.rows || !out.columns || lines.length === 0) return [{ lines, from: 1, to: lines.length, total: lines.length, last: true }];
  const columns = out.columns;
  // A blank line before the header, the header, the question, and a spare row for the cursor.
  const room = Math.max(3, out.rows - 1 - header.reduce((n, l) => n + rowsOf(l, columns), 0) - 2);
  // A line taller than a page (minified code) is shown in pieces of a page each.
  lines = lines.flatMap((l) => (rowsOf(l, columns) > room ? splitWidth(l, room * columns) : [l]));
  const total = lines.length;
  const pages: Page[] = [];
  let start = 0;
  while (start < total) {
    let used = 0;
    let end = start;
    while (end < total && (end === start || used + rowsOf(lines[end]!, columns) <= room)) used += rowsOf(lines[end++]!, columns);
    pages.push({ lines: lines.slice(start, end), from: start + 1, to: end, total, last: end === total });
    start = end;
  }
  return pages;
}
