// What went wrong with a model endpoint, in one line that names it: the
// errors every provider throws for a connection that failed, a key the
// endpoint refused, a model it does not know, and a 200 whose body is not an
// answer; and what an SDK's error tells (status, retry-after). Provider-
// neutral, so the Anthropic and OpenAI-compatible providers word them alike.
import { NotAMessageError, ProviderError, UsageError } from '../../policy/errors.js';

/** Socket and DNS error codes, in words. */
const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'DNS lookup failed (no such host)',
  EAI_AGAIN: 'DNS lookup failed (temporary failure)',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the endpoint',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host',
};

/** The first error `code` along an error's `cause` chain (fetch wraps the socket's error). */
function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function innermostMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e.message) message = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return message.split('\n')[0]!;
}

/**
 * A request that got no HTTP answer: retryable, and it names the endpoint
 * (`connection refused: http://127.0.0.1:8`). A port that fetch will not
 * connect to at all is a configuration error instead (exit 2): no retry helps.
 */
export function connectionError(err: unknown, endpoint: string): ProviderError | UsageError {
  if (innermostMessage(err) === 'bad port') {
    const port = /:(\d+)(?:\/|$)/.exec(endpoint)?.[1] ?? '?';
    return new UsageError(`cannot connect to ${endpoint}: port ${port} is on the fetch standard's list of blocked ports, so Node will not connect to it; serve the endpoint on another port`);
  }
  const code = codeOf(err);
  const words = code ? CONNECTION_CODES[code] : undefined;
  const what = words ?? `connection failed (${code ? `${code}: ` : ''}${innermostMessage(err)})`;
  return new ProviderError(`${what}: ${endpoint}`, true);
}

/** A 401/403: a configuration problem (exit 2), said with the variable that holds the key. */
export function keyRefused(status: number, detail: string, endpoint: string, keyVariable: string): ProviderError {
  const what = status === 401 ? 'refused the API key' : 'does not allow this API key to do that';
  return new ProviderError(`the model endpoint ${endpoint} ${what} (${status} ${detail}): check ${keyVariable}`, false, status);
}

/**
 * A 404: the endpoint has no such model, or the URL is not an endpoint of
 * this API (a base URL with the path doubled). A configuration error (exit 2)
 * that names where the model is chosen (`--model`, or the role's model in the
 * policy) and the variable holding the URL.
 */
export function notFound(detail: string, endpoint: string, model: string, modelSetting: string, urlVariable: string): UsageError {
  return new UsageError(`the model endpoint ${endpoint} answered 404 (${detail}) for model ${model}: check ${modelSetting} and ${urlVariable}`);
}

/**
 * An error event in the middle of a streamed answer (the HTTP status was 200
 * already: Anthropic's `event: error` such as overloaded_error, OpenAI's
 * `{"error"}` chunk). Retryable, like the 5xx it stands for.
 */
export function errorMidStream(detail: string, endpoint: string): ProviderError {
  return new ProviderError(`the model endpoint reported an error in the middle of an answer (${detail}): ${endpoint}`, true);
}

/**
 * A 200 whose body is not an answer: retryable, and never written to a
 * transcript. The assemblers, which do not know the endpoint, leave it out;
 * streamedCall names it.
 */
export function notAMessage(detail: string, endpoint?: string): NotAMessageError {
  return new NotAMessageError(`the model endpoint answered with something that is not a message: ${detail}${endpoint ? `: ${endpoint}` : ''}`, detail);
}

/**
 * Any other HTTP error status (429, 5xx, a 400 other than a prompt too long):
 * the status and the endpoint's own words, naming the endpoint.
 */
export function httpError(status: number, detail: string, endpoint: string, retryable: boolean, retryAfter?: number): ProviderError {
  return new ProviderError(`the model endpoint answered ${status} (${detail}): ${endpoint}`, retryable, status, retryAfter);
}

/**
 * One step of reading a reply (an event or chunk taken in, the answer
 * finished). Whatever it throws besides a provider error is the reply's fault
 * (a field of a type no endpoint sends): not a message, retryable, rather than
 * a TypeError mistaken for a failed connection.
 */
export function readingReply<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw notAMessage(`a reply choragen could not read (${err instanceof Error ? err.message.split('\n')[0] : 'not an Error'})`);
  }
}

/** The HTTP status of an SDK's APIError (undefined for a connection failure, or an error event in a stream). */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** What the endpoint's retry-after-ms / retry-after headers ask for. */
export function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: { get?: unknown } } | null)?.headers;
  if (typeof headers?.get !== 'function') return undefined;
  const get = (name: string): string | null => (headers as { get(name: string): string | null }).get(name);
  const ms = get('retry-after-ms');
  if (ms !== null && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const s = get('retry-after');
  if (s !== null && Number.isFinite(Number(s)) && Number(s) >= 0) return Number(s) * 1000;
  return undefined;
}

/** A short, one-line picture of an unexpected value for an error message. */
export function glimpse(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    text = '(a value too deep or odd to show)'; // String() of such a value throws too
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The base URL as a person wrote it, without a trailing slash. */
export function endpointName(baseURL: string): string {
  return baseURL.replace(/\/+$/, '');
}
