// The body of a streamed Messages request, with prompt-cache breakpoints.
// Pure: the provider sends what this returns, and the specs read it.
//
// The API renders a prompt as tools, then system, then messages, and caches a
// prefix that ends at a block carrying `cache_control` (a breakpoint; at most
// four per request). A later request reads a cached prefix when one of its
// breakpoints ends the same bytes, or lies at most about 20 blocks after
// their end. Choragen sets up to three:
//   1. the end of the system prompt: tools + system are the same bytes for
//      every session of a role, model and policy (the session's own facts
//      open its first message), so a new session starts from the cache;
//   2. the last block of the request before this one (the user message
//      before the newest assistant message), so that prefix is read even when
//      the newest turn added more blocks than the look-back reaches (a burst
//      of parallel tool calls);
//   3. the newest block, so the next request reads everything sent so far.
import type Anthropic from '@anthropic-ai/sdk';
import type { ContentBlock, Message } from '../../capabilities/protocol.js';
import type { ModelCallSpec, ToolSpec } from './provider.js';

const BREAKPOINT: Anthropic.CacheControlEphemeral = { type: 'ephemeral' };

export function messagesRequest(spec: ModelCallSpec): Anthropic.MessageCreateParamsStreaming {
  const messages = spec.messages.map(messageParam);
  const newest = messages.length - 1;
  const previousEnd = lastIndexOf(spec.messages, (m) => m.role === 'assistant') - 1;
  if (previousEnd >= 0 && previousEnd < newest) markLastBlock(messages, previousEnd);
  if (newest >= 0) markLastBlock(messages, newest);
  return {
    model: spec.model,
    max_tokens: spec.maxOutputTokens,
    system: [{ type: 'text', text: spec.system, cache_control: BREAKPOINT }],
    tools: spec.tools.map(toolParam),
    messages,
    stream: true,
  };
}

function toolParam(tool: ToolSpec): Anthropic.Tool {
  // The capability's TypeBox schema is a JSON Schema object, which is what the API takes.
  return { name: tool.name, description: tool.description, input_schema: tool.input_schema as Anthropic.Tool.InputSchema };
}

function messageParam(message: Message): Anthropic.MessageParam {
  const content = typeof message.content === 'string' ? message.content : message.content.map(blockParam);
  return message.role === 'user' ? { role: 'user', content } : { role: 'assistant', content };
}

type Param = Anthropic.ContentBlockParam;

/** The protocol's blocks, one for one, as the API's parameters. */
function blockParam(block: ContentBlock): Param {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'tool_result':
      return { type: 'tool_result', tool_use_id: block.tool_use_id, content: block.content, ...(block.is_error ? { is_error: true } : {}) };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
  }
}

/** Thinking blocks cannot carry cache_control; every other kind choragen sends can. */
type Markable = Exclude<Param, Anthropic.ThinkingBlockParam | Anthropic.RedactedThinkingBlockParam>;
const markable = (b: Param): b is Markable => b.type !== 'thinking' && b.type !== 'redacted_thinking';

/** Puts a breakpoint on the last block of messages[i] that can hold one (the params are fresh copies: the transcript is not touched). */
function markLastBlock(messages: Anthropic.MessageParam[], i: number): void {
  const message = messages[i]!;
  if (typeof message.content === 'string') message.content = [{ type: 'text', text: message.content }];
  const block = message.content[lastIndexOf(message.content, markable)];
  if (block && markable(block)) block.cache_control = BREAKPOINT;
}

function lastIndexOf<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return i;
  return -1;
}
