// Human checkpoints for `approve` decisions. Prompts of parallel sessions are
// serialized (one question on the terminal at a time). --auto-approve says
// yes; with no terminal and no flag the answer is no; a timeout says no.
import { createInterface } from 'node:readline';

export interface ApprovalRequest {
  sessionLabel: string;
  tool: string;
  path: string;
  reason: string;
  rule: string;
  preview?: () => Promise<string>;
}

export interface ApprovalAnswer { answer: 'yes' | 'no'; by: 'terminal' | 'auto-approve' | 'no-terminal' | 'timeout' }

export interface ApproverOptions {
  autoApprove: boolean;
  interactive: boolean;
  timeoutMs: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

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
    if (signal.aborted) return { answer: 'no', by: 'timeout' };
    const out = this.opts.output ?? process.stderr;
    const preview = req.preview ? await req.preview().catch(() => '') : '';
    out.write(`\n── approval needed ── ${req.sessionLabel} wants ${req.tool} on ${req.path}\n   rule ${req.rule}: ${req.reason}\n`);
    if (preview) out.write(preview.endsWith('\n') ? preview : preview + '\n');
    const rl = createInterface({ input: this.opts.input ?? process.stdin, output: out, terminal: false });
    try {
      return await new Promise<ApprovalAnswer>((resolve) => {
        const timer = setTimeout(() => resolve({ answer: 'no', by: 'timeout' }), this.opts.timeoutMs);
        const onAbort = () => resolve({ answer: 'no', by: 'timeout' });
        signal.addEventListener('abort', onAbort, { once: true });
        rl.question(`   allow? [y/N] (no after ${Math.round(this.opts.timeoutMs / 1000)}s) `, (line) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve({ answer: /^y(es)?$/i.test(line.trim()) ? 'yes' : 'no', by: 'terminal' });
        });
      });
    } finally {
      rl.close();
    }
  }
}
