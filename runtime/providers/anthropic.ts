// The Anthropic Messages API, called by the broker only (workers never see the
// key). Every call streams (SSE) under a stall guard (--request-timeout:
// streamed-call.ts, the same for every provider) and
// sends prompt-cache breakpoints (anthropic-request.ts); the answer is
// assembled and checked block by block (anthropic-stream.ts). The SDK's own
// retries are off: the model gateway retries, so every retry is counted in
// model_calls.retries. Failures leave here as one-line errors from the one
// table that name the endpoint (endpoint-errors.ts).
import type Anthropic from '@anthropic-ai/sdk';
import { PromptTooLongError } from '../../policy/errors.js';
import { messagesRequest } from './anthropic-request.js';
import { MessageAssembler } from './anthropic-stream.js';
import { connectionError, endpointName, errorMidStream, httpError, keyRefused, notFound, retryAfterMs, statusOf } from './endpoint-errors.js';
import { type ModelAnswer, type ModelCallSpec, type ModelProvider, RETRYABLE_STATUS } from './provider.js';
import { opened, streamedCall } from './streamed-call.js';

export const ANTHROPIC_DEFAULT_URL = 'https://api.anthropic.com';

export interface AnthropicOptions {
  apiKey: string;
  baseURL?: string;
  /** The variables the key and the base URL came from, named when the endpoint refuses them. */
  keyVariable?: string;
  urlVariable?: string;
}

export class AnthropicProvider implements ModelProvider {
  readonly name = 'anthropic' as const;
  /** The endpoint, as error messages name it. */
  readonly endpoint: string;

  private constructor(private readonly client: Anthropic, baseURL: string, private readonly variables: { key: string; url: string }) {
    this.endpoint = endpointName(baseURL);
  }

  static async create(opts: AnthropicOptions): Promise<AnthropicProvider> {
    const { default: AnthropicClient } = await import('@anthropic-ai/sdk');
    const baseURL = opts.baseURL || ANTHROPIC_DEFAULT_URL;
    // No SDK timeout of its own: the stall guard bounds every wait of a call instead.
    const client = new AnthropicClient({ apiKey: opts.apiKey, baseURL, maxRetries: 0, timeout: 2 ** 31 - 1 });
    return new AnthropicProvider(client, baseURL, { key: opts.keyVariable ?? 'ANTHROPIC_API_KEY', url: opts.urlVariable ?? 'ANTHROPIC_BASE_URL' });
  }

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    const answer = new MessageAssembler();
    const done = await streamedCall(spec, {
      endpoint: this.endpoint,
      open: (signal) => opened(this.client.messages.create(messagesRequest(spec), { signal })),
      add: (event) => answer.add(event),
      progress: (event) => (event.type === 'content_block_delta' ? answer.outputTokens : undefined),
      finish: () => answer.finish(),
      sdkError: (err) => this.sdkError(err, spec),
    });
    return { ...done, model: done.model || spec.model };
  }

  /** An HTTP error or a failed connection, in the one table's words. */
  private sdkError(err: unknown, spec: ModelCallSpec): Error {
    const status = statusOf(err);
    const detail = apiMessage(err);
    if (status === undefined) {
      // An error event in the middle of a stream has a body and no status.
      const body = (err as { error?: unknown } | null)?.error;
      return body !== null && typeof body === 'object' ? errorMidStream(detail, this.endpoint) : connectionError(err, this.endpoint);
    }
    if (status === 401 || status === 403) return keyRefused(status, detail, this.endpoint, this.variables.key);
    if (status === 404) return notFound(detail, this.endpoint, spec.model, spec.modelSetting ?? '--model', this.variables.url);
    // "prompt is too long: N tokens > M maximum", or, when the prompt fits but max_tokens does not,
    // "input length and `max_tokens` exceed context limit: N + K > M": both are the window.
    if (status === 400 && /prompt is too long|exceed context limit/i.test(detail)) return new PromptTooLongError(`${status} ${detail}`);
    return httpError(status, detail, this.endpoint, RETRYABLE_STATUS.has(status), retryAfterMs(err));
  }
}

/** The API's own message from an error body ({"error": {"message"}}), else the error's first line. */
function apiMessage(err: unknown): string {
  const body = (err as { error?: { error?: { message?: unknown }; message?: unknown } } | null)?.error;
  const inner = body?.error?.message ?? body?.message;
  const text = typeof inner === 'string' ? inner : err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!;
}
