// Answers a session's model port: budget check before every call, the
// provider call with retries (backoff + jitter, honoring retry-after),
// metering, and the model_call audit line before the reply is released.
// model_calls holds one row per answered request; a call that never got an
// answer leaves its reason in the session's error instead.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelPortIn, ModelRequest } from '../../capabilities/protocol.js';
import type { ModelCallEvent } from '../audit/events.js';
import { InterruptedError, ProviderError } from '../../policy/errors.js';
import type { LiveSession } from './live-session.js';
import type { ModelAnswer, ToolSpec, Usage } from '../providers/provider.js';

export interface GatewayDeps {
  maxRetries: number;
  retryBaseMs: number;
  maxOutputTokens: number;
  costOf(model: string, usage: Usage): number;
  /** Why the whole tree must stop now, if it must. */
  treeStop(): { status: 'interrupted' | 'budget_exceeded'; reason: string } | null;
  treeSignal: AbortSignal;
  record(event: ModelCallEvent): void;
  /**
   * After metering: the broker checks the budget and audits ungranted
   * tool_use blocks; it returns their refusals by tool_use id.
   */
  afterCall(session: LiveSession, answer: ModelAnswer, cost: number): Record<string, string> | undefined;
}

export interface SessionModelSetup {
  system: string;
  tools: ToolSpec[];
}

export class ModelGateway {
  constructor(private readonly deps: GatewayDeps) {}

  async answer(session: LiveSession, setup: SessionModelSetup, req: ModelRequest): Promise<ModelPortIn> {
    session.transcript.push(...(Array.isArray(req.append) ? req.append : []));
    const stop = this.deps.treeStop();
    if (stop) return { type: 'model_stop', id: req.id, status: stop.status, reason: stop.reason };
    if (session.abort.signal.aborted) return this.stopForSession(session, req.id);

    const signal = AbortSignal.any([session.abort.signal, this.deps.treeSignal]);
    const started = new Date();
    const t0 = performance.now();
    let retries = 0;
    for (;;) {
      try {
        const answer = await session.provider.call({
          model: session.model,
          system: setup.system,
          tools: setup.tools,
          messages: session.transcript,
          maxOutputTokens: this.deps.maxOutputTokens,
          signal,
        });
        const cost = this.deps.costOf(answer.model || session.model, answer.usage);
        session.addUsage(answer.usage, cost);
        this.recordCall(session, started, t0, answer.model || session.model, answer.usage, cost, answer.stop_reason, retries);
        session.transcript.push({ role: 'assistant', content: answer.content });
        const refused = this.deps.afterCall(session, answer, cost);
        return { type: 'model_reply', id: req.id, content: answer.content, stop_reason: answer.stop_reason, ...(refused ? { refused } : {}) };
      } catch (err) {
        if (err instanceof InterruptedError || signal.aborted) {
          const tree = this.deps.treeStop();
          if (tree) return { type: 'model_stop', id: req.id, status: tree.status, reason: tree.reason };
          return this.stopForSession(session, req.id);
        }
        const retryable = err instanceof ProviderError && err.retryable;
        if (retryable && retries < this.deps.maxRetries) {
          const wait = backoffMs(retries, this.deps.retryBaseMs, (err as ProviderError).retryAfterMs);
          retries++;
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            continue; // aborted while waiting: the next attempt sees the abort
          }
          continue;
        }
        const message = err instanceof Error ? err.message : String(err);
        const reason = retryable ? `model call failed after ${retries} retries: ${message}` : `model call failed: ${message}`;
        return { type: 'model_stop', id: req.id, status: 'failed', reason };
      }
    }
  }

  private stopForSession(session: LiveSession, id: number): ModelPortIn {
    const reason = String(session.abort.signal.reason ?? 'session stopped');
    const status = /interrupt/i.test(reason) ? 'interrupted' : 'failed';
    return { type: 'model_stop', id, status, reason };
  }

  private recordCall(session: LiveSession, started: Date, t0: number, model: string, usage: Usage, cost: number,
    stopReason: string | null, retries: number): void {
    this.deps.record({
      type: 'model_call',
      session_id: session.id,
      seq: session.nextModelSeq(),
      started_at: started.toISOString(),
      duration_ms: performance.now() - t0,
      model,
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_tokens: usage.cache_read_tokens,
      cache_write_tokens: usage.cache_write_tokens,
      cost_usd: cost,
      stop_reason: stopReason,
      retries,
    });
  }
}

/** Exponential backoff with full jitter, at least what retry-after asks, at most 30 s. */
export function backoffMs(attempt: number, baseMs: number, retryAfterMs?: number): number {
  const exp = Math.min(30_000, baseMs * 2 ** attempt);
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return Math.min(30_000, Math.max(jittered, retryAfterMs ?? 0));
}
