// A fake Anthropic Messages API on 127.0.0.1, answering from a script
// (runtime/script.ts). It speaks the wire format of the real API closely enough
// that `@anthropic-ai/sdk` parses it: JSON messages, SSE streams, error bodies,
// retry headers. It records every request and the usage of every answer it
// delivered, so tests can compare the sums with what choragen recorded.
//
// Options a test turns on:
// - `cache`: bills like Anthropic's prompt cache (spec/support/prompt-cache.ts);
//   the input side of usage then comes from the simulation, output tokens from
//   the script.
// - `maxPromptTokens`: refuses a longer prompt with the API's 400 "prompt is
//   too long", and reports the estimate as input_tokens so a client's own
//   arithmetic can agree with the limit.
// - `faults` / `fault`: stalls, resets, bodies of the wrong shape, auth errors
//   (spec/support/fake-http.ts), besides the script's own `failures`.
//
// Standalone: node dist/spec/support/fake-anthropic.js --script FILE [--port N]
//   [--api-key K] [--max-prompt-tokens N] [--cache]
// prints `listening <url>` (use it as ANTHROPIC_BASE_URL, no /v1).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContentBlock, Message } from '../../capabilities/protocol.js';
import { describeError } from '../../policy/errors.js';
import type { Script } from '../../runtime/providers/script/format.js';
import { ScriptedModel, type ScriptedReply, type ScriptedUsage } from '../../runtime/providers/script/replay.js';
import {
  bearerKey, chunks, type FakeModelServer, type FakeModelServerOptions, type FaultWire, loadScript,
  newRecord, notePlace, performFault, pickFault, playScriptedDelay, readRequest, type RecordedRequest,
  retryAfterHeaders, runStandalone, sendJson, serve, sumCounts, writeSseHead,
} from './fake-http.js';
import {
  billedInputRatio, breakpointCount, MAX_BREAKPOINTS, PromptCache, promptBlocks, promptTokens, type PromptBlock, type PromptCacheOptions,
} from './prompt-cache.js';

export type { Fault, FaultPicker, RecordedRequest } from './fake-http.js';

export interface FakeServerOptions extends FakeModelServerOptions {
  /** Simulate the prompt cache (true, or its options: minimum cacheable tokens, clock). */
  cache?: boolean | PromptCacheOptions;
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

export interface FakeServer extends FakeModelServer {
  /** Base URL without /v1, as the SDK's `baseURL` and ANTHROPIC_BASE_URL expect. */
  url: string;
  /** Answers delivered whole (a stalled or faulted request has none). */
  responses: RecordedResponse[];
  /** Sum over delivered answers (failed attempts cost nothing, as with the real API). */
  totalUsage(): ScriptedUsage;
  /** Billed input over all-uncached input for the delivered answers (writes 1.25x, reads 0.1x). */
  billedInputRatio(): number;
}

export async function startFakeAnthropic(script: Script | string, opts: FakeServerOptions = {}): Promise<FakeServer> {
  const parsed = loadScript(script);
  const model = new ScriptedModel(parsed);
  const requests: RecordedRequest[] = [];
  const responses: RecordedResponse[] = [];
  const chunkSize = Math.max(1, opts.chunkSize ?? 16);
  const cache = opts.cache ? new PromptCache(opts.cache === true ? {} : opts.cache) : null;
  let largestPromptTokens = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incoming = await readRequest(req);
    const { path, body } = incoming;
    const record = newRecord(requests.length, req, incoming);
    requests.push(record);
    const headers = { 'request-id': `req_fake_${record.seq}` };
    const fail = (status: number, type: string, message: string, extra: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, errorBody(type, message), { ...headers, ...extra });
    };

    const isMessages = path === '/v1/messages';
    const isCount = path === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (!isMessages && !isCount)) {
      return fail(404, 'not_found_error', `Not found: ${req.method} ${path} (the fake serves POST /v1/messages)`);
    }
    const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
    const blocks = isObject ? promptBlocks(body) : null;
    if (blocks) record.promptTokens = promptTokens(blocks);
    if (isMessages) {
      largestPromptTokens = Math.max(largestPromptTokens, record.promptTokens ?? 0);
      notePlace(record, body?.system, body?.messages);
      const fault = pickFault(server, record);
      if (fault) return performFault(fault, faultWire(record), req, res, record, headers);
    }

    // x-api-key is the documented header; @anthropic-ai/sdk 1.x sends `authorization: Bearer`
    const key = req.headers['x-api-key'] || bearerKey(req);
    if (!key || (opts.apiKey !== undefined && key !== opts.apiKey)) {
      return fail(401, 'authentication_error', 'invalid x-api-key');
    }
    if (!isObject || !blocks) return fail(400, 'invalid_request_error', 'request body must be a JSON object');
    const problem = checkBody(body, isCount) ?? (isCount ? null : checkSize(blocks, opts.maxPromptTokens));
    if (problem) return fail(400, 'invalid_request_error', problem);
    if (isCount) {
      record.status = 200;
      return sendJson(res, 200, { input_tokens: record.promptTokens }, headers);
    }

    let reply: ScriptedReply;
    try {
      reply = model.reply({ system: body.system, messages: body.messages as Message[], model: body.model });
    } catch (err) {
      return fail(400, 'invalid_request_error', describeError(err));
    }
    Object.assign(record, { role: reply.role, session: reply.session, turn: reply.turn, attempt: reply.attempt });

    if (!(await playScriptedDelay(reply, req, res, record))) return;
    if (reply.failure?.kind === 'status') {
      const { status, retry_after_ms } = reply.failure;
      return fail(status, errorTypeOf(status), errorMessageOf(status), status === 429 ? retryAfterHeaders(retry_after_ms) : {});
    }

    record.status = 200;
    const usage = { ...reply.usage, ...inputUsage(body.model, blocks) };
    const answer = { ...reply, usage };
    if (record.stream) writeStream(res, answer, chunkSize, headers);
    else sendJson(res, 200, messageObject(answer), headers);
    responses.push({
      requestSeq: record.seq, id: reply.id, model: reply.model, role: reply.role, session: reply.session,
      turn: reply.turn, stream: record.stream, stop_reason: reply.stop_reason, content: reply.content, usage,
    });
  }

  /** The input side of usage when the server counts tokens itself; nothing (the script's numbers) otherwise. */
  function inputUsage(modelName: string, blocks: PromptBlock[]): Partial<ScriptedUsage> {
    if (cache) return cache.use(modelName, blocks);
    if (opts.maxPromptTokens !== undefined) {
      return { input_tokens: promptTokens(blocks), cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
    }
    return {};
  }

  const listening = await serve(opts.port ?? 0, handle, (message) => errorBody('api_error', message));
  const server: FakeServer = {
    url: listening.url,
    port: listening.port,
    requests,
    responses,
    model,
    faults: [...(opts.faults ?? [])],
    fault: opts.fault,
    get largestPromptTokens() {
      return largestPromptTokens;
    },
    totalUsage: () => sumUsage(responses.map((r) => r.usage)),
    billedInputRatio: () => billedInputRatio(responses.map((r) => r.usage)),
    close: listening.close,
  };
  return server;
}

// --- wire format ----------------------------------------------------------------

type Answer = Pick<ScriptedReply, 'id' | 'model' | 'content' | 'stop_reason' | 'usage'>;

function messageObject(reply: Answer) {
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

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The event sequence of the real API: start, ping, blocks (start/deltas/stop), delta with usage, stop. */
function streamFrames(reply: Answer, chunkSize: number): string[] {
  const frames: string[] = [];
  const send = (event: string, data: unknown) => frames.push(sse(event, data));
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
  return frames;
}

function writeStream(res: ServerResponse, reply: Answer, chunkSize: number, headers: Record<string, string>): void {
  writeSseHead(res, headers);
  for (const frame of streamFrames(reply, chunkSize)) res.write(frame);
  res.end();
}

/** A fault's pieces, made without the script: a plausible answer that never completes, or one without content. */
function faultWire(record: RecordedRequest): FaultWire {
  const answer: Answer = {
    id: `msg_fault_${record.seq}`,
    model: typeof record.body?.model === 'string' ? record.body.model : 'unknown',
    content: [{ type: 'text', text: 'a partial answer that never finishes '.repeat(8) }],
    stop_reason: 'end_turn',
    usage: { input_tokens: record.promptTokens ?? 0, output_tokens: 64, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
  };
  return {
    streamStart: () => streamFrames(answer, 8).slice(0, -3), // never the block's stop, the delta or message_stop
    jsonReply: () => messageObject(answer),
    noContent: (stream) => {
      const { content: _dropped, ...message } = messageObject(answer);
      if (!stream) return message;
      return [
        sse('message_start', { type: 'message_start', message: { ...message, stop_reason: null } }),
        sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 0 } }),
        sse('message_stop', { type: 'message_stop' }),
      ];
    },
    error: (status, message) => errorBody(errorTypeOf(status), message ?? errorMessageOf(status)),
    streamOf: (events) => events.map((e) => sse(typeof (e as { type?: unknown })?.type === 'string' ? (e as { type: string }).type : 'message', e)),
  };
}

function errorBody(type: string, message: string) {
  return { type: 'error', error: { type, message } };
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

/** The real API's wording where it has a fixed one. */
const ERROR_MESSAGES: Record<number, string> = {
  401: 'invalid x-api-key',
  403: 'Your API key does not have permission to use the specified resource.',
  404: 'Not found',
  413: 'Request exceeds the maximum allowed number of bytes.',
  429: 'Number of request tokens has exceeded your per-minute rate limit.',
  500: 'Internal server error',
  529: 'Overloaded',
};

function errorMessageOf(status: number): string {
  return ERROR_MESSAGES[status] ?? (status >= 500 ? 'Internal server error' : `Request failed with status ${status}.`);
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

/** The API's refusals of a prompt as a whole, in its words. */
function checkSize(blocks: PromptBlock[], maxPromptTokens: number | undefined): string | null {
  const breakpoints = breakpointCount(blocks);
  if (breakpoints > MAX_BREAKPOINTS) {
    return `A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints}.`;
  }
  const tokens = promptTokens(blocks);
  if (maxPromptTokens !== undefined && tokens > maxPromptTokens) return `prompt is too long: ${tokens} tokens > ${maxPromptTokens} maximum`;
  return null;
}

export function sumUsage(usages: ScriptedUsage[]): ScriptedUsage {
  return sumCounts(['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'], usages);
}

runStandalone(
  import.meta.url,
  'fake-anthropic',
  (args) => startFakeAnthropic(args.script, { port: args.port, apiKey: args.apiKey, maxPromptTokens: args.maxPromptTokens, cache: args.cache }),
  { cacheFlag: true },
);
