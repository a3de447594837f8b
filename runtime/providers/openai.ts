// Any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama at
// http://localhost:11434/v1, vLLM, LM Studio, OpenRouter), called by the
// broker only: workers never see the key. Like the Anthropic provider, every
// call streams under the stall guard (--request-timeout: streamed-call.ts,
// the same for every provider), the SDK's own
// retries are off (the model gateway retries and counts them), and failures
// leave as one-line errors from the one table that name the endpoint. The
// translation lives in openai-request.ts (protocol -> Chat Completions) and
// openai-stream.ts (chunks -> protocol blocks).
import type OpenAI from 'openai';
import { PromptTooLongError } from '../../policy/errors.js';
import { connectionError, endpointName, errorMidStream, httpError, keyRefused, notFound, retryAfterMs, statusOf } from './endpoint-errors.js';
import { chatRequest } from './openai-request.js';
import { CompletionAssembler } from './openai-stream.js';
import { type ModelAnswer, type ModelCallSpec, type ModelProvider, RETRYABLE_STATUS, type Usage } from './provider.js';
import { opened, streamedCall } from './streamed-call.js';

export const OPENAI_DEFAULT_URL = 'https://api.openai.com/v1';

export interface OpenAIOptions {
  apiKey: string;
  /** OPENAI_BASE_URL: the endpoint's base, ending in /v1 for most servers. */
  baseURL?: string;
  /** The variables the key and the base URL came from, named when the endpoint refuses them. */
  keyVariable?: string;
  urlVariable?: string;
}

export class OpenAIProvider implements ModelProvider {
  readonly name = 'openai' as const;
  /** The endpoint, as error messages name it. */
  readonly endpoint: string;

  private constructor(private readonly client: OpenAI, baseURL: string, private readonly variables: { key: string; url: string }) {
    this.endpoint = endpointName(baseURL);
  }

  static async create(opts: OpenAIOptions): Promise<OpenAIProvider> {
    const { default: OpenAIClient } = await import('openai');
    const baseURL = opts.baseURL || OPENAI_DEFAULT_URL;
    // No SDK timeout of its own: the stall guard bounds every wait of a call instead.
    const client = new OpenAIClient({ apiKey: opts.apiKey, baseURL, maxRetries: 0, timeout: 2 ** 31 - 1 });
    return new OpenAIProvider(client, baseURL, { key: opts.keyVariable ?? 'OPENAI_API_KEY', url: opts.urlVariable ?? 'OPENAI_BASE_URL' });
  }

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    const answer = new CompletionAssembler();
    const request = chatRequest(spec);
    const done = await streamedCall(spec, {
      endpoint: this.endpoint,
      open: (signal) => opened(this.client.chat.completions.create(request, { signal })),
      add: (chunk) => answer.add(chunk),
      progress: () => answer.outputTokens,
      finish: () => answer.finish(),
      sdkError: (err) => this.sdkError(err, spec),
    });
    const usage = done.usage ?? estimatedUsage(request, answer.outputTokens);
    return { content: done.content, stop_reason: done.stop_reason, usage, model: done.model || spec.model, ...(done.usage ? {} : { usageEstimated: true }) };
  }

  /** An HTTP error, a failed connection or an error chunk, in the one table's words. */
  private sdkError(err: unknown, spec: ModelCallSpec): Error {
    const status = statusOf(err);
    const body = errorBody(err);
    if (status === undefined) {
      // An error event in the middle of a stream has a body and no status.
      if (body) return errorMidStream(body.message, this.endpoint);
      return connectionError(err, this.endpoint);
    }
    const detail = body?.message ?? firstLine(err).replace(/^\d{3}\s+/, '');
    if (status === 401 || status === 403) return keyRefused(status, detail, this.endpoint, this.variables.key);
    if (status === 404) return notFound(detail, this.endpoint, spec.model, spec.modelSetting ?? '--model', this.variables.url);
    if (status === 400 && (body?.code === 'context_length_exceeded' || /maximum context length|context length exceeded|prompt is too long/i.test(detail))) {
      return new PromptTooLongError(`${status} ${detail}`);
    }
    return httpError(status, detail, this.endpoint, RETRYABLE_STATUS.has(status), retryAfterMs(err));
  }
}

/**
 * Usage for an endpoint that reported none (it ignored include_usage): about
 * 4 bytes a token, so budgets still hold. Counts an endpoint did report are
 * always recorded as reported.
 */
function estimatedUsage(request: unknown, outputTokens: number): Usage {
  const { messages, tools } = request as { messages: unknown; tools?: unknown };
  return { input_tokens: Math.ceil(JSON.stringify({ messages, tools }).length / 4), output_tokens: outputTokens, cache_read_tokens: 0, cache_write_tokens: 0 };
}

/**
 * The endpoint's own error: OpenAI's `{"error": {"message", "code"}}` (the SDK
 * keeps the inner object), or the bare string some local servers send.
 */
function errorBody(err: unknown): { message: string; code: string | null } | null {
  const body = (err as { error?: unknown } | null)?.error;
  if (typeof body === 'string' && body) return { message: body.split('\n')[0]!, code: null };
  if (body === null || typeof body !== 'object') return null;
  const { message, code } = body as { message?: unknown; code?: unknown };
  if (typeof message !== 'string' || !message) return null;
  return { message: message.split('\n')[0]!, code: typeof code === 'string' ? code : null };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
