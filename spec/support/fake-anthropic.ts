// A fake Anthropic Messages API on 127.0.0.1, answering from a script
// (runtime/script.ts). It speaks the wire format of the real API closely enough
// that `@anthropic-ai/sdk` parses it: JSON messages, SSE streams, error bodies,
// retry headers. It records every request and the usage of every answer it
// delivered, so tests can compare the sums with what choragen recorded.
//
// Standalone: node dist/spec/support/fake-anthropic.js --script FILE [--port N] [--api-key K]
// prints `listening <url>` (use it as ANTHROPIC_BASE_URL, no /v1).

import { readFileSync, realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { ContentBlock, Message } from '../../capabilities/protocol.js';
import { describeError } from '../../policy/errors.js';
import { parseScript, ScriptedModel, type Script, type ScriptedReply, type ScriptedUsage } from '../../runtime/providers/script/format.js';

export interface FakeServerOptions {
  /** Default 0: a free port. */
  port?: number;
  /** When set, the key must equal it; otherwise any non-empty key passes. */
  apiKey?: string;
  /** Characters per text_delta / input_json_delta (default 16), so clients really assemble. */
  chunkSize?: number;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  /** Lower-cased headers; the value of x-api-key / authorization is replaced by "[redacted]". */
  headers: Record<string, string>;
  /** Parsed JSON body (null when it was not JSON). */
  body: any;
  stream: boolean;
  role: string | null;
  session: number | null;
  turn: number | null;
  attempt: number | null;
  /** HTTP status sent; 0 = connection reset on purpose; -1 = the client went away first. */
  status: number;
}

export interface RecordedResponse {
  requestSeq: number;
  id: string;
  model: string;
  role: string;
  session: number;
  turn: number;
  stream: boolean;
  stop_reason: string;
  content: ContentBlock[];
  usage: ScriptedUsage;
}

export interface FakeServer {
  /** Base URL without /v1, as the SDK's `baseURL` and ANTHROPIC_BASE_URL expect. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  responses: RecordedResponse[];
  /** Sum over delivered answers (failed attempts cost nothing, as with the real API). */
  totalUsage(): ScriptedUsage;
  model: ScriptedModel;
  close(): Promise<void>;
}

export async function startFakeAnthropic(script: Script | string, opts: FakeServerOptions = {}): Promise<FakeServer> {
  const parsed = typeof script === 'string' ? parseScript(readFileSync(script, 'utf8'), script) : script;
  const model = new ScriptedModel(parsed);
  const requests: RecordedRequest[] = [];
  const responses: RecordedResponse[] = [];
  const chunkSize = Math.max(1, opts.chunkSize ?? 16);

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, 500, 'api_error', describeError(err));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let body: any = null;
    try {
      body = raw.length ? JSON.parse(raw) : null;
    } catch {
      body = null;
    }
    const record: RecordedRequest = {
      seq: requests.length, method: req.method ?? '', path, headers: redactHeaders(req),
      body, stream: body?.stream === true, role: null, session: null, turn: null, attempt: null, status: 0,
    };
    requests.push(record);
    const fail = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
      record.status = status;
      sendError(res, status, type, message, { 'request-id': requestId(record), ...headers });
    };

    const isMessages = path === '/v1/messages';
    const isCount = path === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (!isMessages && !isCount)) {
      return fail(404, 'not_found_error', `Not found: ${req.method} ${path} (the fake serves POST /v1/messages)`);
    }
    const key = credentialOf(req);
    if (key === null || (opts.apiKey !== undefined && key !== opts.apiKey)) {
      return fail(401, 'authentication_error', 'invalid x-api-key');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return fail(400, 'invalid_request_error', 'request body must be a JSON object');
    }
    const problem = checkBody(body, isCount);
    if (problem) return fail(400, 'invalid_request_error', problem);

    let reply: ScriptedReply;
    try {
      reply = model.reply({ system: body.system, messages: body.messages as Message[], model: body.model });
    } catch (err) {
      return fail(400, 'invalid_request_error', describeError(err));
    }
    Object.assign(record, { role: reply.role, session: reply.session, turn: reply.turn, attempt: reply.attempt });

    if (isCount) {
      record.status = 200;
      return sendJson(res, 200, { input_tokens: reply.usage.input_tokens }, { 'request-id': requestId(record) });
    }

    if (reply.delay_ms > 0 && !(await waitUnlessClosed(res, reply.delay_ms))) {
      record.status = -1;
      return;
    }
    if (reply.failure?.kind === 'reset') {
      record.status = 0;
      req.socket.destroy();
      return;
    }
    if (reply.failure?.kind === 'status') {
      const { status, retry_after_ms } = reply.failure;
      const headers: Record<string, string> =
        status === 429
          ? { 'retry-after': String(Math.ceil(retry_after_ms / 1000)), 'retry-after-ms': String(retry_after_ms) }
          : {};
      return fail(status, errorTypeOf(status), errorMessageOf(status), headers);
    }

    if (res.destroyed) {
      record.status = -1;
      return;
    }
    record.status = 200;
    const headers = { 'request-id': requestId(record) };
    if (record.stream) writeStream(res, reply, chunkSize, headers);
    else sendJson(res, 200, messageObject(reply), headers);
    responses.push({
      requestSeq: record.seq, id: reply.id, model: reply.model, role: reply.role, session: reply.session,
      turn: reply.turn, stream: record.stream, stop_reason: reply.stop_reason, content: reply.content, usage: reply.usage,
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    responses,
    model,
    totalUsage: () => sumUsage(responses.map((r) => r.usage)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // delayed answers and keep-alive sockets must not hold the close open
        server.closeAllConnections();
      }),
  };
}

// --- wire format ----------------------------------------------------------------

function messageObject(reply: ScriptedReply) {
  return {
    id: reply.id,
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content: reply.content,
    stop_reason: reply.stop_reason,
    stop_sequence: null,
    usage: { ...reply.usage },
  };
}

/** The event sequence of the real API: start, ping, blocks (start/deltas/stop), delta with usage, stop. */
function writeStream(res: ServerResponse, reply: ScriptedReply, chunkSize: number, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('message_start', {
    type: 'message_start',
    message: {
      ...messageObject(reply),
      content: [],
      stop_reason: null,
      // like the real API: input counts up front, output_tokens grows and is final in message_delta
      usage: { ...reply.usage, output_tokens: Math.min(1, reply.usage.output_tokens) },
    },
  });
  send('ping', { type: 'ping' });
  reply.content.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const text of chunks(String(block.text ?? ''), chunkSize)) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      }
    } else if (block.type === 'tool_use') {
      const { id, name, input } = block as { id: string; name: string; input: unknown };
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } });
      for (const partial_json of chunks(JSON.stringify(input ?? {}), chunkSize)) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
      }
    } else {
      send('content_block_start', { type: 'content_block_start', index, content_block: block });
    }
    send('content_block_stop', { type: 'content_block_stop', index });
  });
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: reply.stop_reason, stop_sequence: null },
    usage: { output_tokens: reply.usage.output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  const chars = Array.from(text); // never split a surrogate pair
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type, message } }, headers);
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function errorTypeOf(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function errorMessageOf(status: number): string {
  if (status === 429) return 'Number of request tokens has exceeded your rate limit (scripted).';
  if (status === 529) return 'Overloaded (scripted).';
  if (status >= 500) return 'Internal server error (scripted).';
  return `Scripted failure with status ${status}.`;
}

function checkBody(body: Record<string, unknown>, isCount: boolean): string | null {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required (a non-empty list)';
  if (!isCount && (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)) {
    return 'max_tokens: Field required (a positive integer)';
  }
  for (const [i, m] of (body.messages as unknown[]).entries()) {
    const msg = m as { role?: unknown; content?: unknown } | null;
    if (!msg || (msg.role !== 'user' && msg.role !== 'assistant')) return `messages.${i}.role: must be "user" or "assistant"`;
    if (typeof msg.content !== 'string' && !Array.isArray(msg.content)) return `messages.${i}.content: must be a string or a list`;
  }
  return null;
}

// --- helpers --------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** Resolves true after `ms`, or false as soon as the client disconnects. */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/**
 * The key as the client sent it: `x-api-key` (the documented header, and what
 * raw HTTP clients send) or `authorization: Bearer <key>` (what
 * @anthropic-ai/sdk 1.x sends for `apiKey`).
 */
function credentialOf(req: IncomingMessage): string | null {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') return key;
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return bearer ? bearer[1]! : null;
}

function redactHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = name === 'x-api-key' || name === 'authorization' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function requestId(record: RecordedRequest): string {
  return `req_fake_${record.seq}`;
}

export function sumUsage(usages: ScriptedUsage[]): ScriptedUsage {
  const total: ScriptedUsage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  for (const u of usages) {
    total.input_tokens += u.input_tokens;
    total.output_tokens += u.output_tokens;
    total.cache_read_input_tokens += u.cache_read_input_tokens;
    total.cache_creation_input_tokens += u.cache_creation_input_tokens;
  }
  return total;
}

// --- standalone -----------------------------------------------------------------

function parseArgs(argv: string[]): { script: string; port: number; apiKey?: string } {
  let script: string | undefined;
  let port = 0;
  let apiKey: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--script') script = value();
    else if (arg === '--port') port = Number(value());
    else if (arg === '--api-key') apiKey = value();
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!script) throw new Error('--script FILE is required');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be an integer 0..65535');
  return { script, port, apiKey };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`fake-anthropic: ${(err as Error).message}\nusage: fake-anthropic --script FILE [--port N] [--api-key K]\n`);
    process.exit(2);
  }
  const server = await startFakeAnthropic(args.script, { port: args.port, apiKey: args.apiKey });
  process.stdout.write(`listening ${server.url}\n`);
  const stop = async () => {
    process.stdout.write(`total_usage ${JSON.stringify(server.totalUsage())}\n`);
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((err) => {
    process.stderr.write(`fake-anthropic: ${describeError(err)}\n`);
    process.exit(2);
  });
}
