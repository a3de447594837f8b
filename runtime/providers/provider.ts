// What the broker needs from a model provider. Both providers (Anthropic and
// the scripted replay) sit behind this one interface, so the scripted model
// goes through the same broker path (budgets, metering, audit, governance).
import type { ContentBlock, Message } from '../../capabilities/protocol.js';

export interface ToolSpec {
  name: string;
  description: string;
  input_schema: unknown;
}

export interface ModelCallSpec {
  model: string;
  system: string;
  tools: ToolSpec[];
  messages: Message[];
  maxOutputTokens: number;
  signal: AbortSignal;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export interface ModelAnswer {
  content: ContentBlock[];
  stop_reason: string | null;
  usage: Usage;
  model: string;
}

export interface ModelProvider {
  readonly name: 'anthropic' | 'script';
  call(spec: ModelCallSpec): Promise<ModelAnswer>;
}

/** The usage object of an Anthropic Messages response (fields the SDK types as number | null). */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export function usageFromAnthropic(u: AnthropicUsage | null | undefined): Usage {
  return {
    input_tokens: u?.input_tokens ?? 0,
    output_tokens: u?.output_tokens ?? 0,
    cache_read_tokens: u?.cache_read_input_tokens ?? 0,
    cache_write_tokens: u?.cache_creation_input_tokens ?? 0,
  };
}

export const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);
