// One streamed model call, the same for every provider, so that timeouts and
// Ctrl-C behave alike whatever the endpoint: the stall guard bounds each wait
// (--request-timeout), each event goes to the provider's assembler, and what
// ended the call is told the same way: the caller's abort is an
// InterruptedError, a stall the stall error naming the endpoint, an event the
// assembler cannot read or that is not JSON a retryable "not a message". Only
// what is left (the SDK's HTTP and connection errors) is the provider's to
// word (`sdkError`).
import { InterruptedError, ProviderError } from '../../policy/errors.js';
import { notAMessage, readingReply } from './endpoint-errors.js';
import type { ModelCallSpec } from './provider.js';
import { StallGuard } from './stall-guard.js';

export interface StreamedCall<E, T> {
  /** The endpoint, as errors name it. */
  endpoint: string;
  /** Sends the request under this signal; resolves to the SDK's stream of events. */
  open(signal: AbortSignal): Promise<AsyncIterable<E>>;
  /** Takes one event in; throws a ProviderError for one that does not belong in an answer. */
  add(event: E): void;
  /** Output tokens received so far after this event, for the live view; undefined when the event added none. */
  progress(event: E): number | undefined;
  /** The whole answer, once the stream has ended. */
  finish(): T;
  /** An SDK error none of the above explains (an HTTP status, a failed connection), as an error of the one table. */
  sdkError(err: unknown): Error;
}

export async function streamedCall<E, T>(spec: ModelCallSpec, call: StreamedCall<E, T>): Promise<T> {
  const guard = new StallGuard(spec.signal, spec.stallTimeoutMs);
  try {
    const stream = await call.open(guard.signal);
    guard.touch();
    // The SDKs' streams end quietly when aborted: the checks after the loop tell why it ended.
    for await (const event of stream) {
      guard.touch();
      readingReply(() => call.add(event));
      const tokens = call.progress(event);
      if (tokens !== undefined) spec.onProgress?.({ outputTokens: tokens });
    }
    if (spec.signal.aborted) throw new InterruptedError('model call aborted');
    if (guard.stalled) throw guard.stallError(call.endpoint);
    return readingReply(() => call.finish());
  } catch (err) {
    if (spec.signal.aborted) throw new InterruptedError('model call aborted');
    if (guard.stalled) throw guard.stallError(call.endpoint);
    if (err instanceof ProviderError || err instanceof InterruptedError) throw err;
    if (err instanceof SyntaxError) throw notAMessage(`an event that is not JSON (${err.message})`);
    throw call.sdkError(err);
  } finally {
    guard.dispose();
  }
}
