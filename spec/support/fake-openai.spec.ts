import { expect } from 'chai';
import OpenAI from 'openai';
import type { Script } from '../../runtime/providers/script/format.js';
import { startFakeOpenAI, systemTextOf, toolNamesOf, type FakeOpenAI } from './fake-openai.js';
import { startStandaloneFake } from './standalone-fake.js';
import { rejection } from './assertions.js';

const REVIEWER = 'You review changes and report.\nchoragen role: reviewer';
const IMPL = 'You are the choragen impl agent.';
const MODEL = 'gpt-fake-mini';

const script: Script = {
  sessions: [
    {
      role: 'reviewer',
      turns: [
        {
          content: [
            { type: 'text', text: 'Reading two files — ünïcode too.' },
            { type: 'tool_use', name: 'read_file', input: { path: 'src/a.ts' } },
            { type: 'tool_use', id: 'call_custom', name: 'grep', input: { pattern: 'TODO', paths: ['src', 'spec'] } },
          ],
          usage: { input_tokens: 150, cache_read_input_tokens: 1024, output_tokens: 33 },
        },
        { content: [{ type: 'text', text: 'Looks good.' }], usage: { input_tokens: 80, output_tokens: 5 } },
      ],
    },
    { role: 'impl', match: 'broken', turns: [{ content: [{ type: 'tool_use', name: 'write_file', input: { path: 'a.ts', content: 'x' } }], malformed: true }] },
    { role: 'impl', match: 'long answer', turns: [{ content: [{ type: 'text', text: 'cut off' }], stop_reason: 'max_tokens' }] },
    { role: 'impl', match: 'rate limited', turns: [{ content: [{ type: 'text', text: 'after 429' }], failures: [429, 429], retry_after_ms: 5 }] },
    { role: 'impl', match: 'server error', turns: [{ content: [{ type: 'text', text: 'after 500' }], failures: [500, 'reset'] }] },
    { role: 'impl', turns: [{ content: [{ type: 'text', text: 'done' }] }] },
  ],
};

const TOOLS: OpenAI.ChatCompletionTool[] = ['read_file', 'grep', 'list_dir'].map((name) => ({
  type: 'function',
  function: { name, description: `${name} tool`, parameters: { type: 'object', properties: { path: { type: 'string' } } } },
}));

function ask(first: string, system = REVIEWER): { model: string; messages: OpenAI.ChatCompletionMessageParam[]; tools: OpenAI.ChatCompletionTool[] } {
  return { model: MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: first }], tools: TOOLS };
}

describe('spec/support/fake-openai', () => {
  let server: FakeOpenAI;
  let client: OpenAI;

  beforeEach(async () => {
    server = await startFakeOpenAI(script, { chunkSize: 5 });
    client = new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('answers a chat completion with several tool calls and OpenAI usage, and records the request', async () => {
    const completion = await client.chat.completions.create(ask('Review the parser'));
    expect(completion).to.include({ object: 'chat.completion', model: MODEL });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).to.equal('tool_calls');
    expect(choice.message.content).to.equal('Reading two files — ünïcode too.');
    expect(choice.message.tool_calls).to.deep.equal([
      { id: 'toolu_0_0_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/a.ts"}' } },
      { id: 'call_custom', type: 'function', function: { name: 'grep', arguments: '{"pattern":"TODO","paths":["src","spec"]}' } },
    ]);
    expect(completion.usage).to.deep.include({ prompt_tokens: 1174, completion_tokens: 33, total_tokens: 1207 });
    expect(completion.usage!.prompt_tokens_details!.cached_tokens).to.equal(1024);

    const [req] = server.requests;
    expect(req).to.include({ method: 'POST', path: '/v1/chat/completions', status: 200, role: 'reviewer', session: 0, turn: 0, attempt: 1 });
    expect(req!.headers.authorization).to.equal('[redacted]');
    expect(JSON.stringify(req)).not.to.include('sk-test');
    expect(req!.body.model).to.equal(MODEL);
    expect(systemTextOf(req!.body.messages)).to.equal(REVIEWER);
    expect(toolNamesOf(req!)).to.deep.equal(['read_file', 'grep', 'list_dir']);
    expect(server.responses[0]).to.deep.include({ finish_reason: 'tool_calls', usage: { prompt_tokens: 1174, completion_tokens: 33, cached_tokens: 1024 }, usageSent: true });
    expect(server.totalUsage()).to.deep.equal({ prompt_tokens: 1174, completion_tokens: 33, cached_tokens: 1024 });
  });

  it('streams tool calls split across chunks the way OpenAI does, and the SDK reassembles them', async () => {
    const raw = await client.chat.completions.create({ ...ask('Review the parser'), stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of raw) chunks.push(chunk);
    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const firsts = toolDeltas.filter((d) => d.id !== undefined);
    expect(firsts.map((d) => [d.index, d.id, d.type, d.function?.name, d.function?.arguments])).to.deep.equal([
      [0, 'toolu_0_0_1', 'function', 'read_file', ''],
      [1, 'call_custom', 'function', 'grep', ''],
    ]);
    const fragments = toolDeltas.filter((d) => d.id === undefined);
    expect(fragments.length).to.be.greaterThan(6);
    for (const f of fragments) {
      expect(Object.keys(f).sort()).to.deep.equal(['function', 'index']);
      expect(Object.keys(f.function!)).to.deep.equal(['arguments']);
    }
    expect(fragments.filter((f) => f.index === 1).map((f) => f.function!.arguments).join('')).to.equal('{"pattern":"TODO","paths":["src","spec"]}');
    // usage: null on every chunk, then one last chunk without choices that carries it
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).to.equal(true);
    expect(chunks.at(-1)!.choices).to.deep.equal([]);
    expect(chunks.at(-1)!.usage).to.deep.include({ prompt_tokens: 1174, completion_tokens: 33 });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).to.equal('tool_calls');

    const final = await client.chat.completions.stream({ ...ask('Review the parser'), stream_options: { include_usage: true } }).finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls!.map((c) => [c.id, c.type === 'function' && JSON.parse(c.function.arguments)])).to.deep.equal([
      ['toolu_0_0_1', { path: 'src/a.ts' }],
      ['call_custom', { pattern: 'TODO', paths: ['src', 'spec'] }],
    ]);
    expect(final.choices[0]!.message.content).to.equal('Reading two files — ünïcode too.');
    expect(final.usage!.prompt_tokens_details!.cached_tokens).to.equal(1024);
  });

  it('sends no usage on a stream that did not ask for it, yet records what the answer cost', async () => {
    const raw = await client.chat.completions.create({ ...ask('Update the README', IMPL), stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of raw) chunks.push(chunk);
    expect(chunks.every((c) => !('usage' in c))).to.equal(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).to.equal('stop');
    expect(server.responses[0]!.usageSent).to.equal(false);
    // no scripted input_tokens: the estimate of the messages and tools
    expect(server.responses[0]!.usage.prompt_tokens).to.equal(server.requests[0]!.promptTokens);
  });

  it('follows the conversation through tool messages to the next turn', async () => {
    const first = await client.chat.completions.create(ask('Review the parser'));
    const message = first.choices[0]!.message;
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      ...ask('Review the parser').messages,
      { role: 'assistant', content: message.content, tool_calls: message.tool_calls },
      ...message.tool_calls!.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: `result of ${c.id}` })),
    ];
    const second = await client.chat.completions.create({ ...ask(''), messages });
    expect(second.choices[0]!.message.content).to.equal('Looks good.');
    expect(second.choices[0]!.finish_reason).to.equal('stop');
    expect(server.requests[1]).to.include({ session: 0, turn: 1 });

    const missing = await rejection<any>(client.chat.completions.create({ ...ask(''), messages: messages.slice(0, -1) }));
    expect(missing).to.be.instanceOf(OpenAI.BadRequestError);
    expect(missing.error.message).to.equal(
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_custom",
    );
    const stray = await rejection<any>(client.chat.completions.create({ ...ask(''), messages: [...ask('x').messages, { role: 'tool', tool_call_id: 'call_x', content: 'r' }] }));
    expect(stray.error.message).to.match(/messages with role 'tool' must be a response to a preceeding message with 'tool_calls'/);
  });

  it('gives finish_reason length for a cut-off answer, and ends the script with a stop', async () => {
    const cut = await client.chat.completions.create(ask('a long answer', IMPL));
    expect(cut.choices[0]!.finish_reason).to.equal('length');
    const ended = await client.chat.completions.create({ ...ask('a long answer', IMPL), messages: [...ask('a long answer', IMPL).messages, { role: 'assistant', content: 'cut off' }, { role: 'user', content: 'go on' }] });
    expect(ended.choices[0]!.message.content).to.equal('(script ended)');
  });

  it('sends malformed arguments (not JSON) for a malformed turn, streamed or not', async () => {
    const plain = await client.chat.completions.create(ask('a broken call', IMPL));
    const args = plain.choices[0]!.message.tool_calls![0]!;
    expect(args.type === 'function' && (() => JSON.parse(args.function.arguments))).to.throw(SyntaxError);
    const streamed = await client.chat.completions.stream(ask('a broken call', IMPL)).finalChatCompletion();
    const call = streamed.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.arguments).to.equal('{"path":"a.ts","content":"x"');
  });

  it('answers 401 for a bad or missing key in OpenAI\'s error shape', async () => {
    const strict = await startFakeOpenAI(script, { apiKey: 'sk-right-key' });
    try {
      const wrong = new OpenAI({ apiKey: 'sk-wrong-key-1234', baseURL: strict.url, maxRetries: 0 });
      const err = await rejection<any>(wrong.chat.completions.create(ask('Review the parser')));
      expect(err).to.be.instanceOf(OpenAI.AuthenticationError);
      expect(err).to.include({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
      expect(err.error.message).to.match(/^Incorrect API key provided: sk-\*+1234\./);
      const right = new OpenAI({ apiKey: 'sk-right-key', baseURL: strict.url, maxRetries: 0 });
      expect((await right.chat.completions.create(ask('Review the parser'))).object).to.equal('chat.completion');
    } finally {
      await strict.close();
    }
    const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: JSON.stringify(ask('x')), headers: { 'content-type': 'application/json' } });
    expect(res.status).to.equal(401);
    expect(((await res.json()) as any).error).to.include({ type: 'invalid_request_error', code: null, param: null });
  });

  it('fails scripted 429s with retry-after that the SDK honours, a 500 as server_error, a reset as a connection error', async () => {
    const limited = await rejection<any>(client.chat.completions.create(ask('rate limited', IMPL)));
    expect(limited).to.be.instanceOf(OpenAI.RateLimitError);
    expect(limited).to.include({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(limited.headers.get('retry-after-ms')).to.equal('5');
    const retrying = new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 2 });
    expect((await retrying.chat.completions.create(ask('rate limited', IMPL))).choices[0]!.message.content).to.equal('after 429');

    const internal = await rejection<any>(client.chat.completions.create(ask('server error', IMPL)));
    expect(internal).to.be.instanceOf(OpenAI.InternalServerError);
    expect(internal.error).to.include({ type: 'server_error' });
    expect(await rejection<any>(client.chat.completions.create(ask('server error', IMPL)))).to.be.instanceOf(OpenAI.APIConnectionError);
    expect((await client.chat.completions.create(ask('server error', IMPL))).choices[0]!.message.content).to.equal('after 500');
    expect(server.requests.filter((r) => r.body.messages[1].content === 'server error').map((r) => [r.status, r.attempt])).to.deep.equal([[500, 1], [0, 2], [200, 3]]);
  });

  it('refuses a prompt over maxPromptTokens with context_length_exceeded and remembers the largest prompt', async () => {
    const limited = await startFakeOpenAI(script, { maxPromptTokens: 500 });
    try {
      const c = new OpenAI({ apiKey: 'sk-test', baseURL: limited.url, maxRetries: 0 });
      const fits = await c.chat.completions.create(ask('Review the parser'));
      expect(fits.usage!.prompt_tokens).to.equal(limited.requests[0]!.promptTokens); // the estimate, as the limit sees it
      const err = await rejection<any>(c.chat.completions.create(ask(`Review ${'this '.repeat(500)}`)));
      const tokens = limited.requests[1]!.promptTokens!;
      expect(err).to.be.instanceOf(OpenAI.BadRequestError);
      expect(err).to.include({ code: 'context_length_exceeded', param: 'messages' });
      expect(err.error.message).to.equal(`This model's maximum context length is 500 tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`);
      expect(limited.largestPromptTokens).to.equal(tokens);
    } finally {
      await limited.close();
    }
  });

  it('injects faults: a stall, a stalled stream, a 200 that is no completion, a message without content, a 403', async () => {
    server.faults.push({ kind: 'stall' }, { kind: 'stall-stream', events: 3 }, { kind: 'not-a-message' }, { kind: 'no-content' }, { kind: 'status', status: 403 });
    expect(await rejection<any>(client.chat.completions.create(ask('Review the parser'), { timeout: 300 }))).to.be.instanceOf(OpenAI.APIConnectionTimeoutError);

    const abort = new AbortController();
    const stream = await client.chat.completions.create({ ...ask('Review the parser'), stream: true }, { signal: abort.signal });
    const seen: OpenAI.ChatCompletionChunk[] = [];
    const reading = (async () => {
      for await (const chunk of stream) seen.push(chunk);
    })().catch((err) => err);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).to.have.length(3);
    expect(seen.every((c) => c.choices[0]!.finish_reason === null)).to.equal(true);
    abort.abort();
    await reading;

    expect(await client.chat.completions.create(ask('Review the parser'))).to.deep.equal({ hello: 1 });
    const empty = await client.chat.completions.create(ask('Review the parser'));
    expect(empty.choices[0]!.message).to.deep.equal({ role: 'assistant' });
    const forbidden = await rejection<any>(client.chat.completions.create(ask('Review the parser')));
    expect(forbidden).to.be.instanceOf(OpenAI.PermissionDeniedError);
    expect(forbidden.error.message).to.equal(`Project \`proj_fake\` does not have access to model \`${MODEL}\``);

    expect(server.requests.map((r) => r.fault)).to.deep.equal(['stall', 'stall-stream', 'not-a-message', 'no-content', 'status']);
    expect(server.responses).to.have.length(0);
    // the faults used up no scripted attempt: the first real answer is attempt 1 of turn 0
    await client.chat.completions.create(ask('Review the parser'));
    expect(server.requests.at(-1)).to.include({ session: 0, turn: 0, attempt: 1 });
  });

  it('serves the SDK configured through OPENAI_BASE_URL, and lists its model', async () => {
    const saved = process.env.OPENAI_BASE_URL;
    process.env.OPENAI_BASE_URL = server.url;
    try {
      const fromEnv = new OpenAI({ apiKey: 'sk-test', maxRetries: 0 });
      expect((await fromEnv.chat.completions.create(ask('Review the parser'))).object).to.equal('chat.completion');
      const models = await fromEnv.models.list();
      expect(models.data.map((m) => m.id)).to.deep.equal(['choragen-scripted']);
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
    }
  });

  it('runs as a standalone process that prints `listening <url>/v1`', async () => {
    const fake = await startStandaloneFake('fake-openai.js', script, ['--max-prompt-tokens', '100000']);
    try {
      expect(fake.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const remote = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0 });
      expect((await remote.chat.completions.create(ask('Review the parser'))).usage!.completion_tokens).to.equal(33);
    } finally {
      const { code, stdout } = await fake.stop();
      expect(code).to.equal(0);
      expect(stdout).to.match(/total_usage \{"prompt_tokens":\d+,"completion_tokens":33,"cached_tokens":\d+\}/);
    }
  });
});
