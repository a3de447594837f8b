// A fake OpenAI-compatible Chat Completions API on 127.0.0.1, answering from
// the same scripts as the fake Anthropic server (runtime/script.ts). It speaks
// the wire format closely enough that the `openai` SDK parses it: JSON
// completions, SSE chunks with tool calls split the way OpenAI splits them,
// `stream_options.include_usage`, error bodies, retry headers. It records every
// request (key redacted) and every answer it delivered.
//
// The script sees the request the Anthropic way: system and developer messages
// are the system prompt (the role comes from it), user/assistant/tool messages
// become user/assistant messages with tool_use/tool_result blocks, and the turn
// is the number of assistant messages. Scripted usage maps to OpenAI's as
//   prompt_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
//   prompt_tokens_details.cached_tokens = cache_read_input_tokens,
//   completion_tokens = output_tokens;
// a turn without scripted input_tokens (or any turn when `maxPromptTokens` is
// set) reports the server's estimate: ceil(bytes / 4) of each message and tool
// as canonical JSON (spec/support/prompt-cache.ts). With `cache`, every turn
// reports that estimate and the part of it OpenAI's automatic prompt cache
// would have read (spec/support/prefix-cache.ts) as cached_tokens. A scripted
// `malformed` turn sends `arguments` that are not JSON.
//
// Standalone: node dist/spec/support/fake-openai.js --script FILE [--port N]
//   [--api-key K] [--max-prompt-tokens N] [--cache]
// prints `listening <url>`, a URL ending in /v1: use it as OPENAI_BASE_URL (the
// SDK appends /chat/completions to its base URL).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContentBlock, Message } from '../../capabilities/protocol.js';
import { describeError } from '../../policy/errors.js';
import type { Script } from '../../runtime/providers/script/format.js';
import { ScriptedModel, type ScriptedReply } from '../../runtime/providers/script/replay.js';
import {
  bearerKey, chunks, type FakeModelServer, type FakeModelServerOptions, type FaultWire, loadScript,
  newRecord, notePlace, performFault, pickFault, playScriptedDelay, readRequest, type RecordedRequest,
  retryAfterHeaders, runStandalone, sendJson, serve, sumCounts, writeSseHead,
} from './fake-http.js';
import { PrefixCache } from './prefix-cache.js';
import { estimateTokens } from './prompt-cache.js';

export type { Fault, FaultPicker, RecordedRequest } from './fake-http.js';

export interface FakeOpenAIOptions extends FakeModelServerOptions {
  /** Simulate OpenAI's automatic prompt cache: cached_tokens as it would read them. */
  cache?: boolean;
  /** Stream without the usage chunk even when include_usage asks for it, as some local servers do. */
  omitUsage?: boolean;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIMessage {
  role: 'assistant';
  content: string | null;
  refusal: null;
  annotations: [];
  tool_calls?: OpenAIToolCall[];
}

export interface RecordedCompletion {
  requestSeq: number;
  id: string;
  model: string;
  role: string;
  session: number;
  turn: number;
  stream: boolean;
  finish_reason: string;
  message: OpenAIMessage;
  /** What the answer cost, whether or not the client asked to be told (a stream without include_usage is not). */
  usage: OpenAIUsage;
  usageSent: boolean;
}

export interface FakeOpenAI extends FakeModelServer {
  /** Base URL ending in /v1, as the SDK's `baseURL` and OPENAI_BASE_URL expect. */
  url: string;
  /** Answers delivered whole (a stalled or faulted request has none). */
  responses: RecordedCompletion[];
  /** Sum over delivered answers (failed attempts cost nothing). */
  totalUsage(): OpenAIUsage;
}

export async function startFakeOpenAI(script: Script | string, opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const parsed = loadScript(script);
  const model = new ScriptedModel(parsed);
  const requests: RecordedRequest[] = [];
  const responses: RecordedCompletion[] = [];
  const chunkSize = Math.max(1, opts.chunkSize ?? 16);
  const cache = opts.cache ? new PrefixCache() : null;
  let largestPromptTokens = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incoming = await readRequest(req);
    const { path, body } = incoming;
    const record = newRecord(requests.length, req, incoming);
    requests.push(record);
    const headers = { 'x-request-id': `req_fake_${record.seq}` };
    const fail = (status: number, error: OpenAIErrorBody['error'], extra: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, { error }, { ...headers, ...extra });
    };

    if (req.method === 'GET' && path === '/v1/models') {
      record.status = 200;
      const id = parsed.model ?? 'choragen-scripted';
      return sendJson(res, 200, { object: 'list', data: [{ id, object: 'model', created: 0, owned_by: 'choragen-fake' }] }, headers);
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return fail(404, invalid(`Invalid URL (${req.method} ${path})`));
    }
    const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
    if (isObject) {
      record.promptTokens = promptTokensOf(body);
      largestPromptTokens = Math.max(largestPromptTokens, record.promptTokens);
      notePlace(record, systemTextOf(body.messages), body.messages);
    }
    const fault = pickFault(server, record);
    if (fault) return performFault(fault, faultWire(record, chunkSize), req, res, record, headers);

    const key = bearerKey(req);
    if (key === null) return fail(401, invalid(MISSING_KEY));
    if (opts.apiKey !== undefined && key !== opts.apiKey) return fail(401, invalid(wrongKey(key), null, 'invalid_api_key'));
    if (!isObject) return fail(400, invalid('We could not parse the JSON body of your request.'));
    const problem = checkBody(body) ?? checkSize(record.promptTokens!, opts.maxPromptTokens);
    if (problem) return fail(400, problem);

    let reply: ScriptedReply;
    try {
      reply = model.reply({ ...toScripted(body.messages), model: body.model });
    } catch (err) {
      return fail(400, invalid(describeError(err)));
    }
    Object.assign(record, { role: reply.role, session: reply.session, turn: reply.turn, attempt: reply.attempt });

    if (!(await playScriptedDelay(reply, req, res, record))) return;
    if (reply.failure?.kind === 'status') {
      const { status, retry_after_ms } = reply.failure;
      return fail(status, errorOf(status, body.model), status === 429 ? retryAfterHeaders(retry_after_ms) : {});
    }

    record.status = 200;
    const usage = cache
      ? { prompt_tokens: record.promptTokens!, completion_tokens: reply.usage.output_tokens, cached_tokens: cache.use(body.model, body) }
      : usageOf(model, reply, record.promptTokens!, opts.maxPromptTokens);
    const completion = completionOf(reply, usage);
    const usageSent = !record.stream || (body.stream_options?.include_usage === true && !opts.omitUsage);
    if (record.stream) {
      writeSseHead(res, headers);
      for (const frame of chunkFrames(completion, chunkSize, usageSent)) res.write(frame);
      res.end();
    } else {
      sendJson(res, 200, completionBody(completion), headers);
    }
    responses.push({
      requestSeq: record.seq, id: completion.id, model: completion.model, role: reply.role, session: reply.session, turn: reply.turn,
      stream: record.stream, finish_reason: completion.finish_reason, message: completion.message, usage: completion.usage, usageSent,
    });
  }

  const listening = await serve(opts.port ?? 0, handle, (message) => ({ error: { message, type: 'server_error', param: null, code: null } }));
  const server: FakeOpenAI = {
    url: `${listening.url}/v1`,
    port: listening.port,
    requests,
    responses,
    model,
    faults: [...(opts.faults ?? [])],
    fault: opts.fault,
    get largestPromptTokens() {
      return largestPromptTokens;
    },
    totalUsage: () => sumOpenAIUsage(responses.map((r) => r.usage)),
    close: listening.close,
  };
  return server;
}

// --- requests, the script's way -------------------------------------------------

/** The system prompt: every system and developer message, in order. */
export function systemTextOf(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.filter((m) => m?.role === 'system' || m?.role === 'developer').map((m) => textOf(m.content)).join('\n');
}

/** The names of the tools a request offered, in order. */
export function toolNamesOf(request: RecordedRequest): string[] {
  return Array.isArray(request.body?.tools) ? request.body.tools.map((t: any) => t?.function?.name) : [];
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p?.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('\n');
}

/** The conversation as the script reads it: Anthropic-shaped, tool results gathered in user messages. */
function toScripted(messages: any[]): { system: string; messages: Message[] } {
  const out: Message[] = [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: textOf(m.content) });
    if (m.role === 'assistant') {
      const blocks: ContentBlock[] = [];
      const text = textOf(m.content);
      if (text) blocks.push({ type: 'text', text });
      for (const call of m.tool_calls ?? []) {
        blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) });
      }
      out.push({ role: 'assistant', content: blocks });
    }
    if (m.role === 'tool') {
      const result: ContentBlock = { type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) };
      const last = out.at(-1);
      if (last?.role === 'user' && Array.isArray(last.content) && last.content.every((b) => b.type === 'tool_result')) last.content.push(result);
      else out.push({ role: 'user', content: [result] });
    }
  }
  return { system: systemTextOf(messages), messages: out };
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function promptTokensOf(body: { messages?: unknown; tools?: unknown }): number {
  const items = [...(Array.isArray(body.messages) ? body.messages : []), ...(Array.isArray(body.tools) ? body.tools : [])];
  return items.reduce((n: number, item) => n + estimateTokens(item), 0);
}

// --- validation, as OpenAI words it -----------------------------------------------

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function invalid(message: string, param: string | null = null, code: string | null = null): OpenAIErrorBody['error'] {
  return { message, type: 'invalid_request_error', param, code };
}

const MISSING_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";

function wrongKey(key: string): string {
  const shown = key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '*'.repeat(key.length);
  return `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`;
}

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function checkBody(body: any): OpenAIErrorBody['error'] | null {
  if (typeof body.model !== 'string' || body.model === '') return invalid('you must provide a model parameter');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return invalid("[] is too short - 'messages'", 'messages', 'empty_array');
  }
  if (body.stream_options != null && body.stream !== true) {
    return invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', null);
  }
  for (const [i, tool] of (Array.isArray(body.tools) ? body.tools : []).entries()) {
    if (tool?.type !== 'function') return invalid(`Invalid value: '${tool?.type}'. Supported values are: 'function'.`, `tools[${i}].type`, 'invalid_value');
    if (typeof tool.function?.name !== 'string' || !TOOL_NAME.test(tool.function.name)) {
      return invalid(
        `Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `tools[${i}].function.name`, 'invalid_value',
      );
    }
  }
  /** tool_call ids of the last assistant message still waiting for their tool messages */
  let awaiting = new Set<string>();
  let awaitingFrom = -1;
  const unanswered = () =>
    invalid(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...awaiting].join(', ')}`,
      `messages.[${awaitingFrom}].role`,
    );
  for (const [i, m] of (body.messages as any[]).entries()) {
    if (!m || !ROLES.includes(m.role)) {
      return invalid(
        `Invalid value: '${m?.role}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`,
        `messages[${i}].role`, 'invalid_value',
      );
    }
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string') return invalid(`Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`, 'missing_required_parameter');
      if (!awaiting.delete(m.tool_call_id)) {
        return invalid("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", `messages.[${i}].role`);
      }
      continue;
    }
    if (awaiting.size > 0) return unanswered();
    if (m.role === 'assistant') {
      if (m.content == null && !Array.isArray(m.tool_calls)) return invalid(`Missing required parameter: 'messages[${i}].content'.`, `messages[${i}].content`, 'missing_required_parameter');
      for (const [j, call] of (m.tool_calls ?? []).entries()) {
        for (const field of ['id', 'function.name', 'function.arguments']) {
          const value = field.split('.').reduce((v: any, k) => v?.[k], call);
          if (typeof value !== 'string') {
            const where = `messages[${i}].tool_calls[${j}].${field}`;
            return invalid(`Missing required parameter: '${where}'.`, where, 'missing_required_parameter');
          }
        }
      }
      awaiting = new Set((m.tool_calls ?? []).map((c: OpenAIToolCall) => c.id));
      awaitingFrom = i;
    } else if (m.content == null) {
      return invalid(`Missing required parameter: 'messages[${i}].content'.`, `messages[${i}].content`, 'missing_required_parameter');
    }
  }
  return awaiting.size > 0 ? unanswered() : null;
}

function checkSize(tokens: number, maxPromptTokens: number | undefined): OpenAIErrorBody['error'] | null {
  if (maxPromptTokens === undefined || tokens <= maxPromptTokens) return null;
  return invalid(
    `This model's maximum context length is ${maxPromptTokens} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
    'messages', 'context_length_exceeded',
  );
}

function errorOf(status: number, modelName: unknown): OpenAIErrorBody['error'] {
  if (status === 401) return invalid(wrongKey('sk-fake-key-redacted'), null, 'invalid_api_key');
  if (status === 403) return invalid(`Project \`proj_fake\` does not have access to model \`${String(modelName)}\``, null, 'model_not_found');
  if (status === 404) return invalid(`The model \`${String(modelName)}\` does not exist or you do not have access to it.`, null, 'model_not_found');
  if (status === 429) return { message: 'Rate limit reached for requests. Please try again later.', type: 'requests', param: null, code: 'rate_limit_exceeded' };
  if (status === 503 || status === 529) return { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', param: null, code: null };
  if (status >= 500) return { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null };
  return invalid(`Request failed with status ${status}.`);
}

// --- answers ----------------------------------------------------------------------

interface Completion {
  id: string;
  model: string;
  created: number;
  message: OpenAIMessage;
  finish_reason: string;
  usage: OpenAIUsage;
}

const FINISH_REASONS: Record<string, string> = { tool_use: 'tool_calls', max_tokens: 'length', refusal: 'content_filter' };

function completionOf(reply: ScriptedReply, usage: OpenAIUsage): Completion {
  const text = reply.content.flatMap((b) => (b.type === 'text' ? [String((b as { text: unknown }).text)] : [])).join('\n');
  const calls: OpenAIToolCall[] = reply.content
    .filter((b): b is ContentBlock & { id: string; name: string; input: unknown } => b.type === 'tool_use')
    .map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: typeof b.input === 'string' ? b.input : JSON.stringify(b.input ?? {}) } }));
  return {
    id: reply.id.replace(/^msg_/, 'chatcmpl-'),
    model: reply.model,
    created: Math.floor(Date.now() / 1000),
    message: { role: 'assistant', content: text || null, refusal: null, annotations: [], ...(calls.length ? { tool_calls: calls } : {}) },
    finish_reason: FINISH_REASONS[reply.stop_reason] ?? 'stop',
    usage,
  };
}

function usageOf(model: ScriptedModel, reply: ScriptedReply, estimate: number, maxPromptTokens: number | undefined): OpenAIUsage {
  const scripted = reply.ended ? undefined : model.script.sessions[reply.session]?.turns[reply.turn]?.usage;
  const prompt_tokens =
    scripted?.input_tokens !== undefined && maxPromptTokens === undefined
      ? scripted.input_tokens + (scripted.cache_read_input_tokens ?? 0) + (scripted.cache_creation_input_tokens ?? 0)
      : estimate;
  return { prompt_tokens, completion_tokens: reply.usage.output_tokens, cached_tokens: Math.min(scripted?.cache_read_input_tokens ?? 0, prompt_tokens) };
}

function usageBody(u: OpenAIUsage) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function completionBody(c: Completion) {
  return {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, message: c.message, logprobs: null, finish_reason: c.finish_reason }],
    usage: usageBody(c.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

/**
 * The chunks of the real API: the role, content fragments, then per tool call a
 * first chunk with index, id, type and name and later chunks with argument
 * fragments only; a last chunk with finish_reason; with include_usage, every
 * chunk carries `usage: null` and a final chunk without choices carries it.
 */
function chunkFrames(c: Completion, chunkSize: number, includeUsage: boolean): string[] {
  const base = { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, service_tier: 'default', system_fingerprint: 'fp_fake' };
  const frames: string[] = [];
  const send = (data: unknown) => frames.push(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: unknown, finish_reason: string | null = null) =>
    send({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason }], ...(includeUsage ? { usage: null } : {}) });
  chunk({ role: 'assistant', content: c.message.tool_calls && !c.message.content ? null : '', refusal: null });
  if (c.message.content) for (const content of chunks(c.message.content, chunkSize)) chunk({ content });
  (c.message.tool_calls ?? []).forEach((call, index) => {
    chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
    for (const fragment of chunks(call.function.arguments, chunkSize)) chunk({ tool_calls: [{ index, function: { arguments: fragment } }] });
  });
  chunk({}, c.finish_reason);
  if (includeUsage) send({ ...base, choices: [], usage: usageBody(c.usage) });
  frames.push('data: [DONE]\n\n');
  return frames;
}

/** A fault's pieces, made without the script. */
function faultWire(record: RecordedRequest, chunkSize: number): FaultWire {
  const completion: Completion = {
    id: `chatcmpl-fault-${record.seq}`,
    model: typeof record.body?.model === 'string' ? record.body.model : 'unknown',
    created: Math.floor(Date.now() / 1000),
    message: { role: 'assistant', content: 'a partial answer that never finishes '.repeat(8), refusal: null, annotations: [] },
    finish_reason: 'stop',
    usage: { prompt_tokens: record.promptTokens ?? 0, completion_tokens: 64, cached_tokens: 0 },
  };
  return {
    streamStart: () => chunkFrames(completion, Math.max(chunkSize, 8), false).slice(0, -2), // never the finish or [DONE]
    jsonReply: () => completionBody(completion),
    noContent: (stream) => {
      if (!stream) {
        const body = completionBody(completion);
        return { ...body, choices: [{ index: 0, message: { role: 'assistant' }, logprobs: null, finish_reason: 'stop' }] };
      }
      const base = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model };
      return [
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant' }, logprobs: null, finish_reason: null }] })}\n\n`,
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })}\n\n`,
        'data: [DONE]\n\n',
      ];
    },
    error: (status, message) => {
      const error = errorOf(status, record.body?.model);
      return { error: message === undefined ? error : { ...error, message } };
    },
    streamOf: (events) => [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n'],
  };
}

export function sumOpenAIUsage(usages: OpenAIUsage[]): OpenAIUsage {
  return sumCounts(['prompt_tokens', 'completion_tokens', 'cached_tokens'], usages);
}

runStandalone(
  import.meta.url,
  'fake-openai',
  (args) => startFakeOpenAI(args.script, { port: args.port, apiKey: args.apiKey, maxPromptTokens: args.maxPromptTokens, cache: args.cache }),
  { cacheFlag: true },
);
