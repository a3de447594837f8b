// What the broker needs from a model provider. Every provider (Anthropic,
// OpenAI-compatible endpoints, the scripted replay) sits behind this one
// interface, so each goes through the same broker path (budgets, metering,
// audit, governance), and retries, timeouts and Ctrl-C behave alike.
import type { ContentBlock, Message } from '../../capabilities/protocol.js';

export interface ToolSpec {
  name: string;
  description: string;
  input_schema: unknown;
}

export type ProviderName = 'anthropic' | 'openai' | 'script';

export interface ModelCallSpec {
  model: string;
  /**
   * The role's system prompt: the same for every session of a role, model and
   * policy, so providers can cache it (session facts travel in the first user
   * message).
   */
  system: string;
  tools: ToolSpec[];
  messages: Message[];
  maxOutputTokens: number;
  /** Aborts the call (Ctrl-C, session timeout, budget): the provider throws InterruptedError. */
  signal: AbortSignal;
  /**
   * The longest wait for the first streamed event and between two events
   * (--request-timeout). Past it the provider aborts the request and throws a
   * retryable ProviderError that names the endpoint.
   */
  stallTimeoutMs?: number;
  /** Where the model is chosen (`--model`, or the role's model in the policy): named when the endpoint does not know the model. */
  modelSetting?: string;
  /** Streaming progress, for the live view: output tokens received so far (estimated). */
  onProgress?(progress: { outputTokens: number }): void;
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
  /**
   * The endpoint reported no usage (an OpenAI-compatible server that ignores
   * include_usage): the counts are the provider's estimate, good for budgets,
   * not a reported prompt size to fit the context window from.
   */
  usageEstimated?: boolean;
  /** What the provider left out of the answer and why (e.g. a content block of an unknown kind): audited as notices. */
  notices?: string[];
}

export interface ModelProvider {
  readonly name: ProviderName;
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
