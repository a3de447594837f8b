// The broker's record of a running session: who it is (bound at creation,
// never taken from a message), what it holds, and what it has spent.
import type { SessionIdentity } from '../../capabilities/capability.js';
import type { Message } from '../../capabilities/protocol.js';
import type { ModelProvider, Usage } from '../providers/provider.js';

export class LiveSession {
  readonly startedAt = new Date();
  readonly startedMs = performance.now();
  readonly abort = new AbortController();
  readonly filesChanged = new Set<string>();
  readonly usage: Usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  cost = 0;
  modelCalls = 0;
  toolCalls = 0;
  private modelSeq = 0;
  private toolSeq = 0;
  transcript: Message[] = [];
  status: 'running' | 'completed' | 'failed' | 'interrupted' | 'budget_exceeded' = 'running';

  constructor(
    readonly identity: SessionIdentity,
    /** Tools this session holds a port for. */
    readonly tools: readonly string[],
    /** What it may hand on to children (never more than its parent's). */
    readonly envelope: ReadonlySet<string>,
    /** The model and the provider its role runs on in this run. */
    readonly model: string,
    readonly provider: ModelProvider,
  ) {}

  get id(): string { return this.identity.id; }
  nextModelSeq(): number { return ++this.modelSeq; }
  nextToolSeq(): number { return ++this.toolSeq; }

  addUsage(u: Usage, cost: number): void {
    this.usage.input_tokens += u.input_tokens;
    this.usage.output_tokens += u.output_tokens;
    this.usage.cache_read_tokens += u.cache_read_tokens;
    this.usage.cache_write_tokens += u.cache_write_tokens;
    this.cost += cost;
    this.modelCalls++;
  }
}
