// Assembles a streamed Messages answer (SSE events, in order) into the
// protocol's ModelAnswer, block by block, and refuses what is not one: a
// stream without message_start, a message without content, a stream that
// ends before message_stop. The SDK's content blocks become the protocol's
// ContentBlock union explicitly (text, tool_use, thinking, redacted_thinking);
// any other kind is dropped with a notice, so the transcript only ever holds
// blocks choragen knows how to send back.
import type Anthropic from '@anthropic-ai/sdk';
import type { ContentBlock } from '../../capabilities/protocol.js';
import { glimpse, notAMessage } from './endpoint-errors.js';
import type { ModelAnswer, Usage } from './provider.js';

/** A block as it is being received: a tool_use's input arrives as pieces of JSON text. */
type Pending = { block: ContentBlock; json?: string } | null;

export class MessageAssembler {
  private started = false;
  private stopped = false;
  private model = '';
  private stopReason: string | null = null;
  private readonly usage: Usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };
  /** By the stream's block index; null for a dropped block. */
  private readonly blocks: Pending[] = [];
  private readonly notices: string[] = [];
  /** Characters of text, thinking and tool input received: the live view's estimate of tokens so far. */
  private chars = 0;

  /** Output tokens received so far, estimated at about 4 characters each. */
  get outputTokens(): number {
    return Math.ceil(this.chars / 4);
  }

  add(event: Anthropic.RawMessageStreamEvent): void {
    if (!event || typeof event !== 'object') throw notAMessage(`an event that is not an object: ${glimpse(event)}`);
    if (event.type !== 'message_start' && !this.started) throw notAMessage(`a stream that does not begin with message_start: ${glimpse(event)}`);
    switch (event.type) {
      case 'message_start':
        return this.start(event.message);
      case 'content_block_start':
        return this.blockStart(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.blockStop(event.index);
      case 'message_delta':
        this.stopReason = strOr(event.delta?.stop_reason, this.stopReason);
        return this.addUsage(event.usage);
      case 'message_stop':
        this.stopped = true;
        return;
      default:
        return; // an event kind added to the API later: nothing to keep
    }
  }

  finish(): ModelAnswer {
    if (!this.started) throw notAMessage('an empty stream (no message_start)');
    if (!this.stopped) throw notAMessage('a stream that ended before message_stop');
    const content: ContentBlock[] = [];
    for (const pending of this.blocks) if (pending) content.push(finished(pending));
    return {
      content,
      stop_reason: this.stopReason,
      usage: { ...this.usage },
      model: this.model,
      ...(this.notices.length ? { notices: [...this.notices] } : {}),
    };
  }

  private start(message: Anthropic.Message | undefined): void {
    if (this.started) throw notAMessage('a second message_start in one stream');
    if (!message || typeof message !== 'object' || message.role !== 'assistant' || !Array.isArray(message.content)) {
      throw notAMessage(`message_start without an assistant message with content: ${glimpse(message)}`);
    }
    this.started = true;
    this.model = typeof message.model === 'string' ? message.model : '';
    this.stopReason = strOr(message.stop_reason, null);
    this.addUsage(message.usage);
    // Content given whole at the start (not the API's habit, but allowed): blocks 0..n-1.
    message.content.forEach((block, i) => this.blockStart(i, block));
  }

  /** Usage fields the event carries replace the ones before (the API's counts are running totals). */
  private addUsage(usage: Partial<Anthropic.MessageDeltaUsage> | Partial<Anthropic.Usage> | null | undefined): void {
    if (!usage || typeof usage !== 'object') return;
    const count = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback);
    this.usage.input_tokens = count(usage.input_tokens, this.usage.input_tokens);
    this.usage.output_tokens = count(usage.output_tokens, this.usage.output_tokens);
    this.usage.cache_read_tokens = count(usage.cache_read_input_tokens, this.usage.cache_read_tokens);
    this.usage.cache_write_tokens = count(usage.cache_creation_input_tokens, this.usage.cache_write_tokens);
  }

  private blockStart(index: number, block: Anthropic.RawContentBlockStartEvent['content_block']): void {
    if (!isIndex(index) || this.blocks[index] !== undefined) {
      throw notAMessage(`a content block at a bad or repeated index ${glimpse(index)}`);
    }
    this.blocks[index] = this.toPending(block);
  }

  private toPending(block: Anthropic.RawContentBlockStartEvent['content_block']): Pending {
    switch (block?.type) {
      case 'text':
        this.chars += block.text?.length ?? 0;
        return { block: { type: 'text', text: str(block.text) } };
      case 'tool_use':
        // The input streams as JSON text (finished() parses it); an input given at the start stands when none streams.
        // id, name and input go on as they came: the broker refuses a call whose name is not a string or whose input
        // is out of bounds (String() or JSON.stringify() of a deeply nested array would overflow the stack here).
        return { block: { type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} }, json: '' };
      case 'thinking':
        return { block: { type: 'thinking', thinking: str(block.thinking), signature: str(block.signature) } };
      case 'redacted_thinking':
        return { block: { type: 'redacted_thinking', data: str(block.data) } };
      default:
        this.notices.push(`dropped a content block of a kind choragen does not handle: ${glimpse(block?.type)}`);
        return null;
    }
  }

  private delta(index: number, delta: Anthropic.RawContentBlockDelta): void {
    // Checked before it indexes anything: a property key of a deeply nested array overflows the stack.
    const pending = isIndex(index) ? this.blocks[index] : undefined;
    if (pending === undefined) throw notAMessage(`a delta for block ${glimpse(index)}, which never started`);
    if (pending === null) return; // a dropped block
    const { block } = pending;
    switch (delta?.type) {
      case 'text_delta':
        if (block.type === 'text') block.text += str(delta.text);
        this.chars += str(delta.text).length;
        return;
      case 'input_json_delta':
        if (block.type === 'tool_use') pending.json = (pending.json ?? '') + str(delta.partial_json);
        this.chars += str(delta.partial_json).length;
        return;
      case 'thinking_delta':
        if (block.type === 'thinking') block.thinking += str(delta.thinking);
        this.chars += str(delta.thinking).length;
        return;
      case 'signature_delta':
        if (block.type === 'thinking') block.signature += str(delta.signature);
        return;
      default:
        return; // citations and kinds added later: not kept
    }
  }

  private blockStop(index: number): void {
    if (!isIndex(index) || this.blocks[index] === undefined) throw notAMessage(`a stop for block ${glimpse(index)}, which never started`);
  }
}

/** A received block, its tool input parsed from the JSON text that streamed in. */
function finished(pending: NonNullable<Pending>): ContentBlock {
  const { block, json } = pending;
  if (block.type !== 'tool_use' || !json) return block;
  try {
    return { ...block, input: JSON.parse(json) };
  } catch {
    // The model's input is not JSON: the raw text goes on, and the broker refuses it as invalid input.
    return { ...block, input: json };
  }
}

/**
 * The text of a field the API sends as a string; anything else (a hostile or
 * broken endpoint) reads as empty. Never String(): a deeply nested array would
 * overflow the stack converting itself.
 */
function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A field the API sends as a string or null (stop_reason): anything but a string keeps what was there. */
function strOr(value: unknown, fallback: string | null): string | null {
  return typeof value === 'string' ? value : fallback;
}

function isIndex(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0;
}
