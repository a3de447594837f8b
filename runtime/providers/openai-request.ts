// A model call as an OpenAI Chat Completions request. The broker keeps every
// transcript in the protocol's blocks (capabilities/protocol.ts); this is the
// one place that turns them into Chat Completions messages, so a session on an
// OpenAI-compatible endpoint sees what an Anthropic session sees:
//
//   system prompt        -> a `system` message first
//   user text            -> a `user` message
//   assistant text       -> `content`; its tool_use blocks -> `tool_calls`
//                           (same ids, input as JSON `arguments`, several per message)
//   tool_result          -> a `tool` message answering its `tool_call_id`; an error
//                           result's content starts with "Error: " (the API has no flag)
//   thinking blocks      -> left out (only Anthropic produces and reads them)
//
// A tool_use whose input is a string holds arguments the endpoint sent that
// were not JSON (openai-stream.ts): they go back exactly as they came, so the
// model sees its own call and the error it got for it.
import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { ContentBlock, Message } from '../../capabilities/protocol.js';
import type { ModelCallSpec, ToolSpec } from './provider.js';

/** What an error tool_result's content starts with on the wire. */
export const TOOL_ERROR_PREFIX = 'Error: ';

export function chatRequest(spec: ModelCallSpec): ChatCompletionCreateParamsStreaming {
  return {
    model: spec.model,
    messages: chatMessages(spec.system, spec.messages),
    ...(spec.tools.length ? { tools: spec.tools.map(chatTool) } : {}),
    // max_tokens is refused by OpenAI's reasoning models; endpoints that do not know this name ignore it.
    max_completion_tokens: spec.maxOutputTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
}

export function chatTool(tool: ToolSpec): ChatCompletionTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.input_schema as Record<string, unknown> } };
}

export function chatMessages(system: string, messages: readonly Message[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
  for (const m of messages) {
    if (typeof m.content === 'string') {
      out.push(m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content });
    } else if (m.role === 'assistant') {
      out.push(assistantMessage(m.content));
    } else {
      // Tool results answer the assistant message before them, so they come first.
      for (const b of m.content) {
        if (b.type === 'tool_result') {
          out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: b.is_error ? `${TOOL_ERROR_PREFIX}${b.content}` : b.content });
        }
      }
      const text = textOf(m.content);
      if (text !== null) out.push({ role: 'user', content: text });
    }
  }
  return out;
}

function assistantMessage(blocks: readonly ContentBlock[]): ChatCompletionAssistantMessageParam {
  const calls: ChatCompletionMessageToolCall[] = [];
  for (const b of blocks) {
    if (b.type === 'tool_use') {
      calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: typeof b.input === 'string' ? b.input : JSON.stringify(b.input ?? {}) } });
    }
  }
  const text = textOf(blocks);
  // A message with tool calls and no text has null content; one with neither (only thinking) an empty string.
  return { role: 'assistant', content: text ?? (calls.length ? null : ''), ...(calls.length ? { tool_calls: calls } : {}) };
}

/** The text blocks joined, or null when there are none. */
function textOf(blocks: readonly ContentBlock[]): string | null {
  const texts = blocks.filter((b): b is Extract<ContentBlock, { type: 'text' }> => b.type === 'text').map((b) => b.text);
  return texts.length ? texts.join('\n') : null;
}
