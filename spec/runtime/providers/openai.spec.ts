// The OpenAI-compatible provider against the fake Chat Completions server:
// what it sends (system, tools, tool calls and results, errors), what it
// assembles from chunks split mid-field, the usage it records, and how each
// failure leaves it (the same one-line errors as the Anthropic provider).
import { expect } from 'chai';
import type { ContentBlock, Message } from '../../../capabilities/protocol.js';
import { exitCodeOf, InterruptedError, PromptTooLongError, ProviderError } from '../../../policy/errors.js';
import { OpenAIProvider } from '../../../runtime/providers/openai.js';
import { chatMessages } from '../../../runtime/providers/openai-request.js';
import { CompletionAssembler, parseArguments, usageFromOpenAI } from '../../../runtime/providers/openai-stream.js';
import type { ModelCallSpec, ToolSpec } from '../../../runtime/providers/provider.js';
import type { Script } from '../../../runtime/providers/script/format.js';
import { type FakeOpenAI, startFakeOpenAI } from '../../support/fake-openai.js';
import { rejection } from '../../support/assertions.js';

const SYSTEM = 'You review.\n\nchoragen role: reviewer';
const TOOLS: ToolSpec[] = [
  { name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } },
  { name: 'git_diff', description: 'Show the diff', input_schema: { type: 'object', properties: {} } },
];

const SCRIPT: Script = {
  sessions: [
    { role: 'reviewer', match: 'two calls', turns: [
      { content: [
        { type: 'text', text: 'Reading both — ünïcode too.' },
        { type: 'tool_use', id: 'call_a', name: 'read_file', input: { path: 'src/a.ts' } },
        { type: 'tool_use', id: 'call_b', name: 'git_diff', input: {} },
      ], usage: { input_tokens: 150, cache_read_input_tokens: 1024, output_tokens: 33 } },
      { content: [{ type: 'text', text: 'Looks good.' }], usage: { input_tokens: 80, output_tokens: 5 } },
    ] },
    { role: 'reviewer', match: 'broken', turns: [
      { malformed: true, content: [{ type: 'tool_use', id: 'call_bad', name: 'read_file', input: { path: 'x' } }] },
      { content: [{ type: 'text', text: 'ok' }] },
    ] },
    { role: 'reviewer', match: 'rate limited', turns: [{ failures: [429], retry_after_ms: 1500, content: [{ type: 'text', text: 'x' }] }] },
    { role: 'reviewer', match: 'slow', turns: [{ delay_ms: 5000, content: [{ type: 'text', text: 'late' }] }] },
    { role: 'reviewer', match: 'cut', turns: [{ stop_reason: 'max_tokens', content: [{ type: 'text', text: 'half an ans' }] }] },
  ],
};

function spec(first: string | Message[], extra: Partial<ModelCallSpec> = {}): ModelCallSpec {
  const messages: Message[] = typeof first === 'string' ? [{ role: 'user', content: first }] : first;
  return { model: 'gpt-5-mini', system: SYSTEM, tools: TOOLS, messages, maxOutputTokens: 1000, signal: new AbortController().signal, ...extra };
}

describe('OpenAI-compatible provider', function () {
  this.timeout(20000);
  let server: FakeOpenAI;
  let provider: OpenAIProvider;

  beforeEach(async () => {
    server = await startFakeOpenAI(SCRIPT, { chunkSize: 3, apiKey: 'sk-test' });
    provider = await OpenAIProvider.create({ apiKey: 'sk-test', baseURL: server.url });
  });
  afterEach(() => server.close());

  it('streams with include_usage; tool calls split across chunks become tool_use blocks with their ids and inputs, several per message', async () => {
    const answer = await provider.call(spec('two calls'));
    const body = server.requests[0]!.body;
    expect(body).to.include({ model: 'gpt-5-mini', stream: true, max_completion_tokens: 1000 });
    expect(body.stream_options).to.deep.equal({ include_usage: true });
    expect(body.messages[0]).to.deep.equal({ role: 'system', content: SYSTEM });
    expect(body.tools).to.deep.equal(TOOLS.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema } })));
    expect(answer.content).to.deep.equal([
      { type: 'text', text: 'Reading both — ünïcode too.' },
      { type: 'tool_use', id: 'call_a', name: 'read_file', input: { path: 'src/a.ts' } },
      { type: 'tool_use', id: 'call_b', name: 'git_diff', input: {} },
    ]);
    expect(answer.stop_reason).to.equal('tool_use');
    expect(answer.model).to.equal('gpt-5-mini');
    // prompt_tokens 1174 of which 1024 cached: input is the uncached part, the cached part a cache read.
    expect(server.responses[0]!.usage).to.deep.equal({ prompt_tokens: 1174, completion_tokens: 33, cached_tokens: 1024 });
    expect(answer.usage).to.deep.equal({ input_tokens: 150, output_tokens: 33, cache_read_tokens: 1024, cache_write_tokens: 0 });
  });

  it('sends the conversation back without loss: ids, arguments, results, error results, in order', async () => {
    const first = await provider.call(spec('two calls'));
    const transcript: Message[] = [
      { role: 'user', content: 'two calls' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'call_a', content: '1\texport {};' },
        { type: 'tool_result', tool_use_id: 'call_b', content: 'git_diff is not available', is_error: true },
      ] },
    ];
    const second = await provider.call(spec(transcript));
    expect(second.content).to.deep.equal([{ type: 'text', text: 'Looks good.' }]);
    expect(second.stop_reason).to.equal('end_turn');
    expect(server.requests[1]!.body.messages.slice(1)).to.deep.equal([
      { role: 'user', content: 'two calls' },
      { role: 'assistant', content: 'Reading both — ünïcode too.', tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/a.ts"}' } },
        { id: 'call_b', type: 'function', function: { name: 'git_diff', arguments: '{}' } },
      ] },
      { role: 'tool', tool_call_id: 'call_a', content: '1\texport {};' },
      { role: 'tool', tool_call_id: 'call_b', content: 'Error: git_diff is not available' },
    ]);
  });

  it('malformed arguments are not a crash: the raw string is the input (a tool error to come) and goes back verbatim', async () => {
    const answer = await provider.call(spec('broken'));
    const use = answer.content[0] as Extract<ContentBlock, { type: 'tool_use' }>;
    expect(use).to.include({ type: 'tool_use', id: 'call_bad', name: 'read_file' });
    expect(use.input).to.equal('{"path":"x"');
    await provider.call(spec([
      { role: 'user', content: 'broken' },
      { role: 'assistant', content: answer.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_bad', content: 'invalid input for read_file', is_error: true }] },
    ]));
    expect(server.requests[1]!.body.messages[2].tool_calls[0].function.arguments).to.equal('{"path":"x"');
  });

  it('maps finish reasons: length is max_tokens', async () => {
    const answer = await provider.call(spec('cut'));
    expect(answer.stop_reason).to.equal('max_tokens');
    expect(answer.content).to.deep.equal([{ type: 'text', text: 'half an ans' }]);
  });

  it('a refused key names OPENAI_API_KEY and the endpoint (exit 2, not retried)', async () => {
    const wrong = await OpenAIProvider.create({ apiKey: 'sk-wrong', baseURL: server.url });
    const err = await rejection(wrong.call(spec('two calls')));
    expect(err).to.be.instanceOf(ProviderError);
    expect((err as ProviderError).retryable).to.equal(false);
    expect((err as ProviderError).exitCode).to.equal(2);
    expect(err.message).to.contain('OPENAI_API_KEY').and.to.contain(server.url);
  });

  it('429 is retryable with the retry-after it was given; 5xx and resets are retryable; a context overflow is PromptTooLongError', async () => {
    const limited = (await rejection(provider.call(spec('rate limited')))) as ProviderError;
    expect(limited).to.include({ retryable: true, status: 429, retryAfterMs: 1500 });
    server.faults.push({ kind: 'status', status: 503 }, { kind: 'reset' });
    expect(await rejection(provider.call(spec('two calls')))).to.include({ retryable: true, status: 503,
      message: `the model endpoint answered 503 (The engine is currently overloaded, please try again later.): ${server.url}` });
    const reset = (await rejection(provider.call(spec('two calls')))) as ProviderError;
    expect(reset.retryable).to.equal(true);
    expect(reset.message).to.contain(server.url);
    const small = await startFakeOpenAI(SCRIPT, { maxPromptTokens: 10 });
    try {
      const p = await OpenAIProvider.create({ apiKey: 'k', baseURL: small.url });
      const tooLong = await rejection(p.call(spec('two calls')));
      expect(tooLong).to.be.instanceOf(PromptTooLongError);
      expect(tooLong.message).to.match(/maximum context length/);
    } finally {
      await small.close();
    }
  });

  it('a body that is not a completion is a retryable error, never an answer', async () => {
    server.faults.push({ kind: 'not-a-message' }, { kind: 'no-content' });
    const said = [];
    for (let i = 0; i < 2; i++) {
      const err = (await rejection(provider.call(spec('two calls')))) as ProviderError;
      expect(err).to.be.instanceOf(ProviderError);
      expect(err.retryable).to.equal(true);
      said.push(err.message);
    }
    // what came, and from where: a JSON object is no event stream at all
    expect(said).to.deep.equal([
      `the model endpoint answered with something that is not a message: an application/json body, not an event stream: ${server.url}`,
      `the model endpoint answered with something that is not a message: an assistant message without content: ${server.url}`,
    ]);
  });

  it('an endpoint that stops sending trips the stall guard; an abort is InterruptedError', async () => {
    server.faults.push({ kind: 'stall-stream', events: 2 });
    const stalled = (await rejection(provider.call(spec('two calls', { stallTimeoutMs: 300 })))) as ProviderError;
    expect(stalled.retryable).to.equal(true);
    expect(stalled.message).to.match(/stopped answering .*--request-timeout.*/).and.to.contain(server.url);
    const abort = new AbortController();
    const call = provider.call(spec('slow', { signal: abort.signal }));
    setTimeout(() => abort.abort(), 100);
    expect(await rejection(call)).to.be.instanceOf(InterruptedError);
  });

  it('an endpoint that reports no usage (ignores include_usage): the counts are estimated and said to be', async () => {
    const quiet = await startFakeOpenAI(SCRIPT, { omitUsage: true });
    try {
      const p = await OpenAIProvider.create({ apiKey: 'k', baseURL: quiet.url });
      const answer = await p.call(spec('two calls'));
      expect(answer.usageEstimated).to.equal(true);
      expect(answer.usage.input_tokens).to.be.greaterThan(0);
      expect((await provider.call(spec('two calls'))).usageEstimated).to.equal(undefined);
    } finally {
      await quiet.close();
    }
  });

  it('a 404 is a configuration error naming where the model is set and OPENAI_BASE_URL', async () => {
    server.faults.push({ kind: 'status', status: 404 }, { kind: 'status', status: 404 });
    const flag = await rejection(provider.call(spec('two calls')));
    expect(exitCodeOf(flag)).to.equal(2);
    expect(flag.message).to.match(/answered 404 \(The model `gpt-5-mini` does not exist.*\) for model gpt-5-mini: check --model and OPENAI_BASE_URL$/);
    const role = await rejection(provider.call(spec('two calls', { modelSetting: 'roles.reviewer.model in the policy' })));
    expect(role.message).to.match(/check roles\.reviewer\.model in the policy and OPENAI_BASE_URL$/);
  });

  it('a connection refused names the endpoint and is retryable', async () => {
    const closed = await startFakeOpenAI(SCRIPT);
    await closed.close();
    const p = await OpenAIProvider.create({ apiKey: 'k', baseURL: closed.url });
    const err = (await rejection(p.call(spec('two calls')))) as ProviderError;
    expect(err.retryable).to.equal(true);
    expect(err.message).to.equal(`connection refused: ${closed.url}`);
  });
});

describe('OpenAI translation, piece by piece', () => {
  it('usage: prompt tokens minus the cached ones are input, cached ones cache reads; nothing negative or missing', () => {
    expect(usageFromOpenAI({ prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 60 } }))
      .to.deep.equal({ input_tokens: 40, output_tokens: 7, cache_read_tokens: 60, cache_write_tokens: 0 });
    expect(usageFromOpenAI({ prompt_tokens: 5, completion_tokens: 1 })).to.deep.equal({ input_tokens: 5, output_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0 });
    expect(usageFromOpenAI({ prompt_tokens: 5, prompt_tokens_details: { cached_tokens: 9 }, completion_tokens: -3 }))
      .to.deep.equal({ input_tokens: 0, output_tokens: 0, cache_read_tokens: 5, cache_write_tokens: 0 });
  });

  it('arguments: JSON values parse, empty means none, anything else stays the raw string', () => {
    expect(parseArguments('{"a":[1,{"b":null}]}')).to.deep.equal({ a: [1, { b: null }] });
    expect(parseArguments('  ')).to.deep.equal({});
    expect(parseArguments('{"a":')).to.equal('{"a":');
    // A JSON string would come back as a bare string: it stays raw so the round trip is exact.
    expect(parseArguments('"x"')).to.equal('"x"');
  });

  it('a stream of whole calls without indexes, a missing id, or "stop" with calls still make tool_use blocks', () => {
    const a = new CompletionAssembler();
    a.add({ model: 'llama3.1:8b', choices: [{ delta: { role: 'assistant', tool_calls: [{ function: { name: 'read_file', arguments: '{"path":"a"}' } }] } }] });
    a.add({ choices: [{ delta: { tool_calls: [{ id: 'x2', function: { name: 'git_diff', arguments: '' } }] }, finish_reason: 'stop' }] });
    const done = a.finish();
    expect(done.stop_reason).to.equal('tool_use');
    expect(done.model).to.equal('llama3.1:8b');
    expect(done.usage).to.equal(null);
    const [first, second] = done.content as Array<Extract<ContentBlock, { type: 'tool_use' }>>;
    expect(first).to.include({ name: 'read_file' });
    expect(first.id).to.match(/^call_[0-9a-f]{8}_0$/);
    expect(first.input).to.deep.equal({ path: 'a' });
    expect(second).to.deep.include({ id: 'x2', name: 'git_diff', input: {} });
  });

  it('a refusal is text with stop_reason refusal; a stream cut before finish_reason is not an answer', () => {
    const r = new CompletionAssembler();
    r.add({ choices: [{ index: 0, delta: { refusal: 'I cannot help with that.' }, finish_reason: 'stop' }] });
    expect(r.finish()).to.deep.include({ content: [{ type: 'text', text: 'I cannot help with that.' }], stop_reason: 'refusal' });
    const cut = new CompletionAssembler();
    cut.add({ choices: [{ index: 0, delta: { content: 'half' } }] });
    expect(() => cut.finish()).to.throw(ProviderError, /ended before the answer did/);
    const junk = new CompletionAssembler();
    expect(() => junk.add({ choices: 'nope' })).to.throw(ProviderError, /not a list/);
  });

  it('a finish_reason named like an Object property is a plain stop reason; an empty stream says so', () => {
    const a = new CompletionAssembler();
    a.add({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: 'constructor' }] });
    expect(a.finish().stop_reason).to.equal('constructor'); // not Object's constructor, which no worker could be sent
    expect(() => new CompletionAssembler().finish()).to.throw(ProviderError, /an empty stream \(no chunk\)/);
  });

  it('a name or arguments of another type than a string stay what they were, for the broker to refuse; nothing is converted', () => {
    const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`);
    const a = new CompletionAssembler();
    a.add({ choices: [{ index: 0, delta: { content: deep, refusal: deep, tool_calls: [
      { index: 0, id: 'c0', function: { name: deep, arguments: '{}' } },
      { index: 1, id: deep, function: { name: 'read_file', arguments: deep } },
      { index: 2, id: 'c2', function: { name: 'read_file', arguments: { path: 'src/a.ts' } } },
    ] } }] });
    a.add({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    const [c0, c1, c2] = a.finish().content as Array<Extract<ContentBlock, { type: 'tool_use' }>>;
    expect(c0!.name).to.equal(deep);
    expect(c1!.id).to.match(/^call_[0-9a-f]{8}_1$/);
    expect(c1!.input).to.equal(deep);
    expect(c2!.input).to.deep.equal({ path: 'src/a.ts' });
    // A delta that is not an object is not a message (not a TypeError taken for a failed connection).
    expect(() => new CompletionAssembler().add({ choices: [{ delta: 'text' }] })).to.throw(ProviderError, /a delta that is not an object/);
  });

  it('user text after tool results follows them; an assistant message of thinking only has empty content', () => {
    const messages = chatMessages('sys', [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'a' } }] },
      { role: 'user', content: [{ type: 'text', text: 'and also' }, { type: 'tool_result', tool_use_id: 't1', content: 'x' }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }] },
    ]);
    expect(messages).to.deep.equal([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a"}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'x' },
      { role: 'user', content: 'and also' },
      { role: 'assistant', content: '' },
    ]);
  });
});
