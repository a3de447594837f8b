// The Anthropic Messages API, called by the broker only (workers never see the
// key). The SDK's own retries are off: the gateway retries, so every retry is
// counted in model_calls.retries.
import type Anthropic from '@anthropic-ai/sdk';
import { type ModelAnswer, type ModelCallSpec, type ModelProvider, RETRYABLE_STATUS, usageFromAnthropic } from './provider.js';
import { InterruptedError, ProviderError } from '../../policy/errors.js';

export class AnthropicProvider implements ModelProvider {
  readonly name = 'anthropic' as const;
  private constructor(private readonly client: Anthropic) {}

  static async create(opts: { apiKey: string; baseURL?: string; timeoutMs?: number }): Promise<AnthropicProvider> {
    const { default: AnthropicClient } = await import('@anthropic-ai/sdk');
    const client = new AnthropicClient({
      apiKey: opts.apiKey,
      baseURL: opts.baseURL || undefined,
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 10 * 60_000,
    });
    return new AnthropicProvider(client);
  }

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    try {
      const message = await this.client.messages.create(
        {
          model: spec.model,
          system: spec.system,
          tools: spec.tools as any,
          messages: spec.messages as any,
          max_tokens: spec.maxOutputTokens,
        },
        { signal: spec.signal },
      );
      return {
        content: message.content as any,
        stop_reason: message.stop_reason ?? null,
        usage: usageFromAnthropic(message.usage),
        model: message.model ?? spec.model,
      };
    } catch (err) {
      throw toProviderError(err, spec.signal);
    }
  }
}

function toProviderError(err: any, signal: AbortSignal): Error {
  if (signal.aborted || err?.name === 'APIUserAbortError') return new InterruptedError('model call aborted');
  const status: number | undefined = typeof err?.status === 'number' ? err.status : undefined;
  const message = providerMessage(err);
  if (status === undefined) {
    // Connection reset, DNS, timeout: worth another try.
    return new ProviderError(`connection error: ${message}`, true);
  }
  return new ProviderError(`${status} ${message}`, RETRYABLE_STATUS.has(status), status, retryAfterMs(err?.headers));
}

function providerMessage(err: any): string {
  const inner = err?.error?.error?.message ?? err?.error?.message;
  return String(inner ?? err?.message ?? err).split('\n')[0];
}

function retryAfterMs(headers: any): number | undefined {
  const get = (k: string) => (typeof headers?.get === 'function' ? headers.get(k) : headers?.[k]);
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && get('retry-after-ms') != null) return ms;
  const s = Number(get('retry-after'));
  if (Number.isFinite(s) && s >= 0 && get('retry-after') != null) return s * 1000;
  return undefined;
}
