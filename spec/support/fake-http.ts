// HTTP plumbing shared by the fake model servers (fake-anthropic.ts,
// fake-openai.ts): reading requests, recording them with the key redacted,
// writing JSON and SSE, the injectable faults, listening, the standalone entry.
// Nothing here knows a wire format; each fake supplies its own pieces.

import { readFileSync, realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { describeError } from '../../policy/errors.js';
import { parseScript, type Script } from '../../runtime/providers/script/format.js';
import { detectRole, type ScriptedModel, type ScriptedReply, type SystemPrompt } from '../../runtime/providers/script/replay.js';

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  /** Lower-cased headers; the value of x-api-key / authorization is replaced by "[redacted]". */
  headers: Record<string, string>;
  /** Parsed JSON body (null when it was not JSON). */
  body: any;
  stream: boolean;
  /** The role, when the system prompt names one (set before a fault is chosen). */
  role: string | null;
  /** Script session, turn (assistant messages so far) and attempt; null when the script was not consulted. */
  session: number | null;
  turn: number | null;
  attempt: number | null;
  /** Estimated prompt tokens (spec/support/prompt-cache.ts), null when the body was not a request. */
  promptTokens: number | null;
  /** The injected fault this request got, if any. */
  fault: Fault['kind'] | null;
  /** HTTP status sent; 0 = connection reset on purpose; -1 = nothing sent (the client went away first, or a stall). */
  status: number;
}

/** What both fakes offer a test besides their own answers and usage. */
export interface FakeModelServer extends FaultSource {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The largest prompt (estimated tokens) any model request carried, refused ones included. */
  readonly largestPromptTokens: number;
  model: ScriptedModel;
  close(): Promise<void>;
}

/** Options both fakes take. */
export interface FakeModelServerOptions {
  /** Default 0: a free port. */
  port?: number;
  /** When set, the key must equal it; otherwise any non-empty key passes. */
  apiKey?: string;
  /** Characters per streamed text or JSON fragment (default 16), so clients really assemble. */
  chunkSize?: number;
  /** Refuse prompts estimated above this many tokens, as the API refuses one over the context window. */
  maxPromptTokens?: number;
  /** Faults for the next model requests, one each, in order (null = answer normally). */
  faults?: Array<Fault | null>;
  /** Asked for a fault per request once `faults` is empty. */
  fault?: FaultPicker;
}

/** A script given as data, or the path of a script file. */
export function loadScript(script: Script | string): Script {
  return typeof script === 'string' ? parseScript(readFileSync(script, 'utf8'), script) : script;
}

/**
 * A misbehaviour injected in place of the answer, before the request is checked
 * or the script consulted (so a faulted request uses up no scripted attempt).
 */
export type Fault =
  /** Read the request, never send a byte: the client must time out. */
  | { kind: 'stall' }
  /** Send 200 and the first `events` SSE events (default 4), then nothing; a JSON request gets half its body. */
  | { kind: 'stall-stream'; events?: number }
  /** Drop the connection before answering. */
  | { kind: 'reset' }
  /** A 200 whose body is not a reply of the API (default `{"hello":1}` as JSON). */
  | { kind: 'not-a-message'; body?: string; contentType?: string }
  /** A 200 reply whose assistant message has no content. */
  | { kind: 'no-content' }
  /** An error the way the real API words it (401, 403, 429 with retry-after, 5xx…). */
  | { kind: 'status'; status: number; message?: string; retryAfterMs?: number }
  /**
   * A 200 stream of exactly these events (chunks), framed the API's way,
   * whatever they hold: a reply no script can write (fields of odd types,
   * deeply nested arrays where strings belong: a hostile endpoint).
   */
  | { kind: 'stream'; events: unknown[] };

/** Chooses a fault per request: return null/undefined to answer normally. */
export type FaultPicker = (request: Readonly<RecordedRequest>) => Fault | null | undefined;

/** Where faults come from: `faults` is consumed one per request first, then `fault` is asked. */
export interface FaultSource {
  faults: Array<Fault | null>;
  fault?: FaultPicker;
}

/** Role and turn as far as the request tells them, for a fault picker (the script is not consulted). */
export function notePlace(record: RecordedRequest, systemPrompt: SystemPrompt, messages: unknown): void {
  try {
    record.role = detectRole(systemPrompt);
  } catch {
    record.role = null;
  }
  if (Array.isArray(messages)) record.turn = messages.filter((m) => m?.role === 'assistant').length;
}

export function pickFault(source: FaultSource, record: RecordedRequest): Fault | null {
  if (source.faults.length > 0) return source.faults.shift() ?? null;
  return source.fault?.(record) ?? null;
}

/** The wire-format pieces a fault is made of. */
export interface FaultWire {
  /** The SSE frames a stream begins with (a stalled stream sends the first few). */
  streamStart(): string[];
  /** A full JSON reply (a stalled JSON answer sends half of it). */
  jsonReply(): unknown;
  /** A 200 reply whose message has no content: SSE frames or a JSON body. */
  noContent(stream: boolean): string[] | unknown;
  /** The API's error body for a status. */
  error(status: number, message?: string): unknown;
  /** SSE frames carrying these events, as the API frames and ends a stream. */
  streamOf(events: unknown[]): string[];
}

/** Answers (or does not) as the fault says; `headers` go on whatever is sent. */
export async function performFault(
  fault: Fault, wire: FaultWire, req: IncomingMessage, res: ServerResponse, record: RecordedRequest, headers: Record<string, string>,
): Promise<void> {
  record.fault = fault.kind;
  switch (fault.kind) {
    case 'stall':
      record.status = -1; // nothing is ever sent; the client leaves
      await closed(res);
      return;
    case 'reset':
      record.status = 0;
      req.socket.destroy();
      return;
    case 'stall-stream': {
      record.status = 200;
      if (record.stream) {
        writeSseHead(res, headers);
        for (const frame of wire.streamStart().slice(0, Math.max(0, fault.events ?? 4))) res.write(frame);
      } else {
        const text = JSON.stringify(wire.jsonReply());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
        res.write(text.slice(0, Math.floor(text.length / 2)));
      }
      await closed(res);
      return;
    }
    case 'not-a-message': {
      record.status = 200;
      const text = fault.body ?? '{"hello":1}';
      res.writeHead(200, { 'content-type': fault.contentType ?? 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
      return;
    }
    case 'no-content': {
      record.status = 200;
      const reply = wire.noContent(record.stream);
      if (record.stream) {
        writeSseHead(res, headers);
        for (const frame of reply as string[]) res.write(frame);
        res.end();
      } else {
        sendJson(res, 200, reply, headers);
      }
      return;
    }
    case 'stream': {
      record.status = 200;
      writeSseHead(res, headers);
      for (const frame of wire.streamOf(fault.events)) res.write(frame);
      res.end();
      return;
    }
    case 'status': {
      record.status = fault.status;
      const retryAfterMs = fault.retryAfterMs ?? (fault.status === 429 ? 1000 : undefined);
      sendJson(res, fault.status, wire.error(fault.status, fault.message), { ...headers, ...(retryAfterMs === undefined ? {} : retryAfterHeaders(retryAfterMs)) });
      return;
    }
  }
}

/**
 * Plays what the script asks of an attempt besides its answer: the delay, a
 * dropped connection. False when nothing more is to be sent (the status says why).
 */
export async function playScriptedDelay(reply: ScriptedReply, req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<boolean> {
  if (reply.delay_ms > 0 && !(await waitUnlessClosed(res, reply.delay_ms))) {
    record.status = -1;
    return false;
  }
  if (reply.failure?.kind === 'reset') {
    record.status = 0;
    req.socket.destroy();
    return false;
  }
  if (res.destroyed) {
    record.status = -1;
    return false;
  }
  return true;
}

// --- requests -------------------------------------------------------------------

export interface Incoming {
  raw: string;
  path: string;
  /** The parsed JSON body, or null. */
  body: any;
}

export async function readRequest(req: IncomingMessage): Promise<Incoming> {
  const raw = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
  const path = new URL(req.url ?? '/', 'http://fake').pathname;
  let body: any = null;
  try {
    body = raw.length ? JSON.parse(raw) : null;
  } catch {
    body = null;
  }
  return { raw, path, body };
}

export function newRecord(seq: number, req: IncomingMessage, incoming: Incoming): RecordedRequest {
  return {
    seq, method: req.method ?? '', path: incoming.path, headers: redactHeaders(req), body: incoming.body,
    stream: incoming.body?.stream === true, role: null, session: null, turn: null, attempt: null,
    promptTokens: null, fault: null, status: 0,
  };
}

function redactHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = name === 'x-api-key' || name === 'authorization' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function bearerKey(req: IncomingMessage): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return bearer ? bearer[1]! : null;
}

// --- responses ------------------------------------------------------------------

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function writeSseHead(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
}

/** Headers that tell a client when to retry (both SDKs read them). */
export function retryAfterHeaders(retryAfterMs: number): Record<string, string> {
  return { 'retry-after': String(Math.ceil(retryAfterMs / 1000)), 'retry-after-ms': String(retryAfterMs) };
}

/** Field-by-field sums of token counts. */
export function sumCounts<K extends string>(keys: readonly K[], items: Iterable<Record<K, number>>): Record<K, number> {
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const item of items) for (const k of keys) total[k] += item[k];
  return total;
}

/** Pieces of at most `size` characters, never splitting a surrogate pair; one empty piece for empty text. */
export function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}

/** Resolves true after `ms`, or false as soon as the client disconnects. */
export function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
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

function closed(res: ServerResponse): Promise<void> {
  return res.destroyed ? Promise.resolve() : new Promise((resolve) => res.once('close', () => resolve()));
}

// --- serving --------------------------------------------------------------------

export interface Listening {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `handle` on 127.0.0.1; an exception answers 500 in the fake's error
 * shape (or drops a response already under way).
 */
export async function serve(
  port: number,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  internalError: (message: string) => unknown,
): Promise<Listening> {
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, internalError(describeError(err)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // delayed or stalled answers and keep-alive sockets must not hold the close open
        server.closeAllConnections();
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago): an endpoint that refuses connections. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// --- standalone -----------------------------------------------------------------

export interface StandaloneArgs {
  script: string;
  port: number;
  apiKey?: string;
  maxPromptTokens?: number;
  cache: boolean;
}

const USAGE = '--script FILE [--port N] [--api-key K] [--max-prompt-tokens N] [--cache]';

function parseArgs(argv: string[], cacheFlag: boolean): StandaloneArgs {
  const args: Partial<StandaloneArgs> & { cache: boolean; port: number } = { port: 0, cache: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--script') args.script = value();
    else if (arg === '--port') args.port = Number(value());
    else if (arg === '--api-key') args.apiKey = value();
    else if (arg === '--max-prompt-tokens') args.maxPromptTokens = Number(value());
    else if (arg === '--cache' && cacheFlag) args.cache = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!args.script) throw new Error('--script FILE is required');
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error('--port must be an integer 0..65535');
  if (args.maxPromptTokens !== undefined && !(Number.isInteger(args.maxPromptTokens) && args.maxPromptTokens > 0)) {
    throw new Error('--max-prompt-tokens must be a positive integer');
  }
  return args as StandaloneArgs;
}

/**
 * `node <fake>.js --script FILE …`: prints `listening <url>` once serving, and
 * `total_usage <json>` when stopped by SIGINT/SIGTERM. Runs only when `moduleUrl`
 * is the process's entry point.
 */
export function runStandalone(
  moduleUrl: string,
  name: string,
  start: (args: StandaloneArgs) => Promise<{ url: string; totalUsage(): unknown; close(): Promise<void> }>,
  opts: { cacheFlag: boolean },
): void {
  if (!isEntryPoint(moduleUrl)) return;
  const usage = opts.cacheFlag ? USAGE : USAGE.replace(' [--cache]', '');
  const main = async () => {
    let args: StandaloneArgs;
    try {
      args = parseArgs(process.argv.slice(2), opts.cacheFlag);
    } catch (err) {
      process.stderr.write(`${name}: ${(err as Error).message}\nusage: ${name} ${usage}\n`);
      process.exit(2);
    }
    const server = await start(args);
    process.stdout.write(`listening ${server.url}\n`);
    const stop = async () => {
      process.stdout.write(`total_usage ${JSON.stringify(server.totalUsage())}\n`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  };
  main().catch((err) => {
    process.stderr.write(`${name}: ${describeError(err)}\n`);
    process.exit(2);
  });
}

function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}
