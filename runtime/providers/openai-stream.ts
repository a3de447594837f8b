// The chunks of a streamed Chat Completion, assembled into the protocol's
// blocks. Each chunk comes from an endpoint we do not control (OpenAI, Ollama,
// vLLM, LM Studio, OpenRouter), so every field is checked before it is used:
// a stream that is not a completion is a retryable `notAMessage`, never a
// transcript entry.
//
// Tool calls arrive in pieces keyed by `index`: the first piece names the id
// and the function, later pieces carry fragments of `arguments`. Arguments
// that are not a JSON value stay the string they were (the dispatcher then
// refuses the call as invalid input, and the model sees why); empty arguments
// mean no arguments, as local servers send them for tools without parameters.
//
// A name or arguments that are not a string (a hostile or broken endpoint)
// stay the value they were: the broker refuses such a call at arrival
// (runtime/broker/input-bounds.ts, the tool name check), the model is told,
// and the session goes on. Nothing here converts such a value to text: String()
// of a deeply nested array overflows the stack.
import { randomUUID } from 'node:crypto';
import type { ContentBlock } from '../../capabilities/protocol.js';
import { glimpse, notAMessage } from './endpoint-errors.js';
import type { Usage } from './provider.js';

/** finish_reason -> the protocol's stop_reason (Anthropic's words, which the agent loop and the audit use). */
const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'max_tokens',
  content_filter: 'refusal',
};

/** OpenAI's usage as the broker counts it: prompt tokens read from the cache are cache reads, not input. */
export function usageFromOpenAI(u: unknown): Usage {
  const usage = (u ?? {}) as { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null };
  const prompt = count(usage.prompt_tokens);
  const cached = Math.min(count(usage.prompt_tokens_details?.cached_tokens), prompt);
  return { input_tokens: prompt - cached, output_tokens: count(usage.completion_tokens), cache_read_tokens: cached, cache_write_tokens: 0 };
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
  /** A name or arguments that came as something other than a string, kept as it came. */
  oddName?: unknown;
  oddArgs?: unknown;
}

export interface AssembledCompletion {
  content: ContentBlock[];
  stop_reason: string;
  /** Null when the endpoint reported none (it ignored stream_options.include_usage). */
  usage: Usage | null;
  model: string;
}

export class CompletionAssembler {
  private text = '';
  private refusal = '';
  private readonly calls = new Map<number, PendingCall>();
  private finishReason: string | null = null;
  private usage: Usage | null = null;
  private model = '';
  private chars = 0;
  private chunks = 0;
  /** Whether any delta carried `content` (even null or ""), a refusal or tool calls: a message has one of them. */
  private hasContent = false;

  /** Output tokens so far, estimated (about 4 characters a token), for the live view. */
  get outputTokens(): number {
    return Math.ceil(this.chars / 4);
  }

  add(chunk: unknown): void {
    this.chunks++;
    if (chunk === null || typeof chunk !== 'object') throw notAMessage(`a chunk that is not an object (${glimpse(chunk)})`);
    const c = chunk as { model?: unknown; choices?: unknown; usage?: unknown };
    if (typeof c.model === 'string' && c.model) this.model = c.model;
    if (c.usage !== null && c.usage !== undefined) this.usage = usageFromOpenAI(c.usage);
    if (c.choices === undefined || c.choices === null) return;
    if (!Array.isArray(c.choices)) throw notAMessage(`choices that are not a list (${glimpse(c.choices)})`);
    for (const choice of c.choices as unknown[]) this.addChoice(choice);
  }

  private addChoice(raw: unknown): void {
    const choice = (raw ?? {}) as { index?: unknown; delta?: unknown; finish_reason?: unknown };
    if (typeof choice.index === 'number' && choice.index !== 0) return; // n = 1: only the first choice is ours
    if (choice.delta !== undefined && choice.delta !== null && typeof choice.delta !== 'object') throw notAMessage(`a delta that is not an object (${glimpse(choice.delta)})`);
    const delta = (choice.delta ?? {}) as { content?: unknown; refusal?: unknown; tool_calls?: unknown };
    if ('content' in delta || typeof delta.refusal === 'string' || Array.isArray(delta.tool_calls)) this.hasContent = true;
    if (typeof delta.content === 'string') this.append('text', delta.content);
    if (typeof delta.refusal === 'string') this.append('refusal', delta.refusal);
    if (delta.tool_calls !== undefined && delta.tool_calls !== null) {
      if (!Array.isArray(delta.tool_calls)) throw notAMessage(`tool_calls that are not a list (${glimpse(delta.tool_calls)})`);
      for (const piece of delta.tool_calls as unknown[]) this.addCallPiece(piece);
    }
    if (typeof choice.finish_reason === 'string' && choice.finish_reason) this.finishReason = choice.finish_reason;
  }

  private append(kind: 'text' | 'refusal', fragment: string): void {
    if (kind === 'text') this.text += fragment;
    else this.refusal += fragment;
    this.chars += fragment.length;
  }

  private addCallPiece(raw: unknown): void {
    const piece = (raw ?? {}) as { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } | null };
    // Some servers send every call whole, without an index: each piece is then a call of its own.
    const index = typeof piece.index === 'number' ? piece.index : this.calls.size;
    let call = this.calls.get(index);
    if (!call) this.calls.set(index, (call = { id: '', name: '', args: '' }));
    if (typeof piece.id === 'string' && piece.id) call.id = piece.id;
    const fn = piece.function !== null && typeof piece.function === 'object' ? piece.function : {};
    if (typeof fn.name === 'string') call.name += fn.name;
    else if (fn.name !== undefined && fn.name !== null) call.oddName = fn.name;
    if (typeof fn.arguments === 'string') {
      call.args += fn.arguments;
      this.chars += fn.arguments.length;
    } else if (fn.arguments !== undefined && fn.arguments !== null) {
      call.oddArgs = fn.arguments;
    }
  }

  finish(): AssembledCompletion {
    if (this.chunks === 0) throw notAMessage('an empty stream (no chunk)');
    if (this.finishReason === null) {
      throw notAMessage(this.calls.size || this.text || this.refusal ? 'the stream ended before the answer did (no finish_reason)' : 'a stream without a choice');
    }
    if (!this.hasContent) throw notAMessage('an assistant message without content');
    const content: ContentBlock[] = [];
    const text = this.text || this.refusal;
    if (text) content.push({ type: 'text', text });
    const batch = randomUUID().slice(0, 8);
    for (const [index, call] of [...this.calls].sort(([a], [b]) => a - b)) {
      if (!call.name && call.oddName === undefined) throw notAMessage(`a tool call without a function name (${glimpse(call)})`);
      // An odd name goes on as it came (typed as the string it should be): the broker refuses the call.
      const name = call.oddName !== undefined ? (call.oddName as string) : call.name;
      content.push({ type: 'tool_use', id: call.id || `call_${batch}_${index}`, name, input: call.oddArgs !== undefined ? call.oddArgs : parseArguments(call.args) });
    }
    const hasCalls = this.calls.size > 0;
    // Some servers finish a message that holds tool calls with "stop".
    // Own keys only: a finish_reason of "constructor" must not find Object's.
    const mapped = Object.hasOwn(STOP_REASONS, this.finishReason) ? STOP_REASONS[this.finishReason]! : this.finishReason;
    const stop = hasCalls && this.finishReason === 'stop' ? 'tool_use' : this.refusal && !this.text ? 'refusal' : mapped;
    return { content, stop_reason: stop, usage: this.usage, model: this.model };
  }
}

/**
 * The arguments as a JSON value; the raw string when they are not JSON (or
 * are a JSON string, which would not survive the way back as itself: a
 * string input goes back to the endpoint as the raw arguments).
 */
export function parseArguments(args: string): unknown {
  if (args.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'string' ? args : value;
  } catch {
    return args;
  }
}
