// Keeps one session's requests inside its model's context window: estimates
// the next prompt, says when to compact and how far. Pure arithmetic over the
// transcript; the model gateway acts on it.
//
// Estimate: the previous call's prompt as the provider reported it (input +
// cache read + cache write tokens: exact) plus what was added since (the
// reply and the tool results) at one token per 3 bytes of JSON, which errs
// high (Claude's tokenizer averages ~3.5–4 bytes a token over English and
// code). With no reported call to start from (the first call, or right after
// a compaction) the whole prompt is estimated that way.
//
// The window holds the prompt and the answer, so the answer's room is
// reserved (max_tokens, at most a quarter of the window) and the prompt gets
// the rest: its budget. Past COMPACT_AT of the budget the conversation is
// compacted down to COMPACT_TO, in one large step: every compaction changes
// the conversation's early bytes, so the next request writes the cache anew,
// and compacting a little every turn would pay that every turn.
import type { Message } from '../../capabilities/protocol.js';
import type { ToolSpec, Usage } from '../providers/provider.js';
import { compactTranscript, type Compacted } from './compaction.js';

/** Compact when the estimated prompt passes this share of the prompt budget… */
export const COMPACT_AT = 0.85;
/** …down to this share, the newest turns kept whole while they fit KEEP_WHOLE of the budget. */
export const COMPACT_TO = 0.5;
export const KEEP_WHOLE = 0.3;
/** After the endpoint still said "prompt is too long": further down. */
export const HARDER_TO = 0.3;
export const HARDER_KEEP_WHOLE = 0.1;
const BYTES_PER_TOKEN = 3;

export function estimateTokens(value: unknown): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') / BYTES_PER_TOKEN);
}

export interface Compaction extends Compacted {
  /** Estimated prompt tokens (system and tools included) before and after. */
  before: number;
  after: number;
}

export class ContextFit {
  /** Room kept for the answer: the request's max_tokens. */
  readonly maxOutputTokens: number;
  /** The most a prompt may hold (lowered when the endpoint refuses less than it). */
  budget: number;
  /** Tokens of the system prompt and the tools. */
  private readonly fixed: number;
  /** The last answered call: its reported prompt tokens and how many messages it held. */
  private reported: { tokens: number; messages: number } | null = null;

  constructor(readonly windowTokens: number, maxOutputTokens: number, setup: { system: string; tools: ToolSpec[] }) {
    this.maxOutputTokens = Math.max(1, Math.min(maxOutputTokens, Math.floor(windowTokens / 4)));
    this.budget = windowTokens - this.maxOutputTokens;
    this.fixed = estimateTokens({ system: setup.system, tools: setup.tools });
  }

  /** The next request's prompt, estimated. */
  estimate(messages: readonly Message[]): number {
    const r = this.reported;
    // A provider that reports no usage leaves nothing to start from.
    if (r && r.tokens > 0 && r.messages <= messages.length) return r.tokens + sumTokens(messages.slice(r.messages));
    return this.fixed + sumTokens(messages);
  }

  needsCompaction(messages: readonly Message[]): boolean {
    return this.estimate(messages) > COMPACT_AT * this.budget;
  }

  fits(messages: readonly Message[]): boolean {
    return this.estimate(messages) <= this.budget;
  }

  /** A smaller conversation; `harder` after the endpoint refused one as too long. */
  compact(messages: readonly Message[], harder: boolean): Compaction {
    const before = this.estimate(messages);
    const share = harder ? HARDER_TO : COMPACT_TO;
    const keep = harder ? HARDER_KEEP_WHOLE : KEEP_WHOLE;
    const room = Math.max(0, this.budget * share - this.fixed);
    const done = compactTranscript(messages, { targetTokens: room, keepWholeTokens: this.budget * keep, tokensOf: estimateTokens });
    this.reported = null; // what the provider reported was about the conversation before
    return { ...done, before, after: this.fixed + done.tokens };
  }

  /**
   * The endpoint refused a prompt as too long although it fit the budget: the
   * window is smaller than believed. The budget drops to the maximum the
   * refusal names (Anthropic's "… tokens > 200000 maximum" or "… exceed
   * context limit: 190000 + 16000 > 200000"), or else to 90%
   * of what the refused prompt was estimated at, so the same refusal does not
   * come back every turn. True when the refusal named the maximum.
   */
  refused(message: string, refusedEstimate: number): boolean {
    const named = /(\d+) maximum/.exec(message) ?? /maximum context length is (\d+)/i.exec(message) ?? /exceed context limit: \d+ \+ \d+ > (\d+)/i.exec(message);
    const limit = named ? Number(named[1]) - this.maxOutputTokens : Math.floor(refusedEstimate * 0.9);
    if (limit > 0 && limit < this.budget) this.budget = limit;
    return named !== null;
  }

  /** A call with `messages` was answered and the provider reported `usage`. */
  answered(messages: number, usage: Usage): void {
    this.reported = { tokens: usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens, messages };
  }
}

function sumTokens(messages: readonly Message[]): number {
  let n = 0;
  for (const m of messages) n += estimateTokens(m);
  return n;
}
