// Answers a session's model port: budget check before every call, the
// conversation fitted to the model's context window (compacted when the next
// prompt would not fit), the provider call with retries (backoff + jitter,
// honoring retry-after; a stalled stream is retried like a dropped
// connection), metering, and the model_call audit line before the reply is
// released. model_calls holds one row per answered request; a call that never
// got an answer leaves its reason in the session's error instead.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message, ModelPortIn, ModelRequest } from '../../capabilities/protocol.js';
import type { CompactionEvent, ModelCallEvent, NoticeEvent } from '../audit/events.js';
import { ChoragenError, EndpointStalledError, ExitCode, exitCodeOf, InterruptedError, PromptTooLongError, ProviderError } from '../../policy/errors.js';
import type { LiveSession } from './live-session.js';
import type { ModelAnswer, ToolSpec, Usage } from '../providers/provider.js';
import { contextWindowOf } from '../providers/context-windows.js';
import { ContextFit } from './context-fit.js';
import { plural } from '../../capabilities/fs/output.js';

export interface GatewayDeps {
  maxRetries: number;
  retryBaseMs: number;
  maxOutputTokens: number;
  /** --request-timeout: the longest wait for the first streamed event and between two. */
  requestTimeoutMs?: number;
  /** --context-window: overrides the table's window for every model. */
  contextWindow?: number;
  costOf(model: string, usage: Usage): number;
  /** Why the whole tree must stop now, if it must. */
  treeStop(): { status: 'interrupted' | 'budget_exceeded' | 'failed'; reason: string } | null;
  treeSignal: AbortSignal;
  record(event: ModelCallEvent | CompactionEvent | NoticeEvent): void;
  /**
   * After metering: the broker checks the budget and audits ungranted
   * tool_use blocks; it returns their refusals by tool_use id.
   */
  afterCall(session: LiveSession, answer: ModelAnswer, cost: number): Record<string, string> | undefined;
  /** The endpoint refused the configuration (a 401/403 key, a blocked port): every session would fail alike, so the tree stops. */
  configError(reason: string): void;
  /** A streamed answer is arriving: output tokens so far (for the live view). */
  onProgress?(session: LiveSession, outputTokens: number): void;
}

export interface SessionModelSetup {
  system: string;
  tools: ToolSpec[];
  /** Where the session's model is chosen (`--model`, or its role's model in the policy), for an endpoint that does not know it. */
  modelSetting?: string;
  /** The transcript was compacted: the journal records it whole, so a resume starts from what the model saw. */
  onCompacted(transcript: readonly Message[]): void;
}

type Stop = Extract<ModelPortIn, { type: 'model_stop' }>;

export class ModelGateway {
  private readonly fits = new WeakMap<LiveSession, ContextFit>();
  /** Models whose window this run guessed, said once each. */
  private readonly guessedWindows = new Set<string>();

  constructor(private readonly deps: GatewayDeps) {}

  async answer(session: LiveSession, setup: SessionModelSetup, req: ModelRequest): Promise<ModelPortIn> {
    session.transcript.push(...(Array.isArray(req.append) ? req.append : []));
    const stop = this.deps.treeStop();
    if (stop) return { type: 'model_stop', id: req.id, status: stop.status, reason: stop.reason };
    if (session.abort.signal.aborted) return this.stopForSession(session, req.id);

    const fit = this.fitFor(session, setup);
    const tooBig = this.fitContext(session, setup, fit, req.id);
    if (tooBig) return tooBig;

    const signal = AbortSignal.any([session.abort.signal, this.deps.treeSignal]);
    const started = new Date();
    const t0 = performance.now();
    let retries = 0;
    let compactedHarder = false;
    for (;;) {
      try {
        const sent = session.transcript.length;
        const answer = await session.provider.call({
          model: session.model,
          system: setup.system,
          tools: setup.tools,
          messages: session.transcript,
          maxOutputTokens: fit.maxOutputTokens,
          signal,
          stallTimeoutMs: this.deps.requestTimeoutMs,
          modelSetting: setup.modelSetting,
          onProgress: this.deps.onProgress ? ({ outputTokens }) => this.deps.onProgress!(session, outputTokens) : undefined,
        });
        // An estimate is no reported prompt size: the fit then estimates the whole prompt itself, on the safe side.
        if (!answer.usageEstimated) fit.answered(sent, answer.usage);
        const cost = this.deps.costOf(answer.model || session.model, answer.usage);
        session.addUsage(answer.usage, cost);
        this.recordCall(session, started, t0, answer.model || session.model, answer.usage, cost, answer.stop_reason, retries);
        for (const message of answer.notices ?? []) this.deps.record({ type: 'notice', session_id: session.id, kind: 'provider', message });
        session.transcript.push({ role: 'assistant', content: answer.content });
        const refused = this.deps.afterCall(session, answer, cost);
        return { type: 'model_reply', id: req.id, content: answer.content, stop_reason: answer.stop_reason, ...(refused ? { refused } : {}) };
      } catch (err) {
        if (err instanceof InterruptedError || signal.aborted) {
          const tree = this.deps.treeStop();
          if (tree) return { type: 'model_stop', id: req.id, status: tree.status, reason: tree.reason };
          return this.stopForSession(session, req.id);
        }
        if (err instanceof PromptTooLongError) {
          // The estimate was short of the endpoint's count: compact further and try once more.
          if (compactedHarder) return this.failed(req.id, `the conversation does not fit ${session.model}'s context window even compacted (${err.message}); give a larger --context-window if the model has one, or start a new session`);
          compactedHarder = true;
          // A refusal that names the endpoint's maximum tells the budget to keep to; one that does not, only to go lower.
          const learned = fit.refused(err.message, fit.estimate(session.transcript));
          this.compact(session, setup, fit, 'prompt_too_long', !learned);
          if (!fit.fits(session.transcript)) return this.doesNotFit(session, fit, req.id);
          retries++;
          continue;
        }
        if (err instanceof ChoragenError && exitCodeOf(err) === ExitCode.usage) {
          // A refused key, a port fetch will not use: the configuration is wrong for every session alike.
          this.deps.configError(err.message);
          return this.failed(req.id, err.message);
        }
        const retryable = err instanceof ProviderError && err.retryable;
        if (retryable && retries < this.deps.maxRetries) {
          // After a stall the timeout already waited: the next attempt goes at once.
          const wait = err instanceof EndpointStalledError ? 0 : backoffMs(retries, this.deps.retryBaseMs, (err as ProviderError).retryAfterMs);
          retries++;
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            continue; // aborted while waiting: the next attempt sees the abort
          }
          continue;
        }
        const message = err instanceof Error ? err.message : String(err);
        return this.failed(req.id, retryable ? `model call failed after ${plural(retries, 'retry', 'retries')}: ${message}` : `model call failed: ${message}`);
      }
    }
  }

  private fitFor(session: LiveSession, setup: SessionModelSetup): ContextFit {
    let fit = this.fits.get(session);
    if (!fit) {
      const window = contextWindowOf(session.model, this.deps.contextWindow);
      if (window.source === 'default' && !this.guessedWindows.has(session.model)) {
        this.guessedWindows.add(session.model);
        this.deps.record({
          type: 'notice', session_id: session.id, kind: 'context_window',
          message: `the context window of ${session.model} is not known: assuming ${window.tokens.toLocaleString('en-US')} tokens (set --context-window TOKENS)`,
        });
      }
      fit = new ContextFit(window.tokens, this.deps.maxOutputTokens, setup);
      this.fits.set(session, fit);
    }
    return fit;
  }

  /** Compacts before a request that would not fit; a model_stop when even compacted it cannot. */
  private fitContext(session: LiveSession, setup: SessionModelSetup, fit: ContextFit, id: number): Stop | null {
    if (!fit.needsCompaction(session.transcript)) return null;
    this.compact(session, setup, fit, 'threshold', false);
    if (!fit.fits(session.transcript)) this.compact(session, setup, fit, 'threshold', true);
    if (fit.fits(session.transcript)) return null;
    return this.doesNotFit(session, fit, id);
  }

  private doesNotFit(session: LiveSession, fit: ContextFit, id: number): Stop {
    const n = (x: number) => x.toLocaleString('en-US');
    return this.failed(id, `the conversation does not fit ${session.model}'s context window of ${n(fit.windowTokens)} tokens even compacted (~${n(fit.estimate(session.transcript))} tokens of prompt, ${n(fit.budget)} allowed, ${n(fit.maxOutputTokens)} kept for the answer); give a larger --context-window if the model has one`);
  }

  private compact(session: LiveSession, setup: SessionModelSetup, fit: ContextFit, reason: CompactionEvent['reason'], harder: boolean): void {
    const done = fit.compact(session.transcript, harder);
    const messagesBefore = session.transcript.length;
    session.transcript = done.messages;
    session.compactions++;
    this.deps.record({
      type: 'compaction', session_id: session.id, reason, window_tokens: fit.windowTokens,
      tokens_before: done.before, tokens_after: done.after, messages_before: messagesBefore, messages_after: done.messages.length,
      stubbed: done.stubbed, dropped_turns: done.dropped,
    });
    setup.onCompacted(session.transcript);
  }

  private failed(id: number, reason: string): Stop {
    return { type: 'model_stop', id, status: 'failed', reason };
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
