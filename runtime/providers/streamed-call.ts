// One streamed model call, the same for every provider, so that timeouts and
// Ctrl-C behave alike whatever the endpoint: the stall guard bounds each wait
// (--request-timeout), each event goes to the provider's assembler, and what
// ended the call is told the same way: the caller's abort is an
// InterruptedError, a stall the stall error naming the endpoint, an event the
// assembler cannot read or that is not JSON a retryable "not a message"
// naming the endpoint (a body that is no event stream at all: its type). Only
// what is left (the SDK's HTTP and connection errors) is the provider's to
// word (`sdkError`).
import { InterruptedError, NotAMessageError, ProviderError } from '../../policy/errors.js';
import { glimpse, notAMessage, readingReply } from './endpoint-errors.js';
import type { ModelCallSpec } from './provider.js';
import { StallGuard } from './stall-guard.js';

export interface StreamedCall<E, T> {
  /** The endpoint, as errors name it. */
  endpoint: string;
  /** Sends the request under this signal; resolves to the SDK's stream of events and the response's content-type. */
  open(signal: AbortSignal): Promise<{ events: AsyncIterable<E>; contentType: string | null }>;
  /** Takes one event in; throws a ProviderError for one that does not belong in an answer. */
  add(event: E): void;
  /** Output tokens received so far after this event, for the live view; undefined when the event added none. */
  progress(event: E): number | undefined;
  /** The whole answer, once the stream has ended. */
  finish(): T;
  /** An SDK error none of the above explains (an HTTP status, a failed connection), as an error of the one table. */
  sdkError(err: unknown): Error;
}

/** An SDK's streaming request (its APIPromise) as `open` returns it: the events and the response's content-type. */
export async function opened<E>(request: { withResponse(): Promise<{ data: AsyncIterable<E>; response: Response }> }): Promise<{ events: AsyncIterable<E>; contentType: string | null }> {
  const { data, response } = await request.withResponse();
  return { events: data, contentType: response.headers.get('content-type') };
}

export async function streamedCall<E, T>(spec: ModelCallSpec, call: StreamedCall<E, T>): Promise<T> {
  const guard = new StallGuard(spec.signal, spec.stallTimeoutMs);
  let contentType: string | null = null;
  let events = 0;
  try {
    const stream = await call.open(guard.signal);
    contentType = stream.contentType;
    guard.touch();
    // The SDKs' streams end quietly when aborted: the checks after the loop tell why it ended.
    for await (const event of stream.events) {
      guard.touch();
      events++;
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
    if (err instanceof NotAMessageError) {
      // An SDK reads a body that is not an event stream (an HTML error page, a JSON object) as no events at all.
      const noStream = events === 0 && !/^text\/event-stream\b/i.test(contentType ?? '');
      const type = glimpse(contentType?.split(';')[0]?.trim() || 'untyped');
      throw notAMessage(noStream ? `${/^[aeiou]/i.test(type) ? 'an' : 'a'} ${type} body, not an event stream` : err.detail, call.endpoint);
    }
    if (err instanceof ProviderError || err instanceof InterruptedError) throw err;
    if (err instanceof SyntaxError) throw notAMessage(`an event that is not JSON (${err.message})`, call.endpoint);
    throw call.sdkError(err);
  } finally {
    guard.dispose();
  }
}
