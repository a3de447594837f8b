import Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import type { Script } from '../../runtime/providers/script/format.js';
import { startFakeAnthropic, type FakeServer } from './fake-anthropic.js';
import { promptBlocks, promptTokens } from './prompt-cache.js';
import { startStandaloneFake } from './standalone-fake.js';
import { rejection } from './assertions.js';

const CONTROL = 'You are the choragen control agent.';
const IMPL = 'You are a choragen impl agent working in a workspace.';
const MODEL = 'claude-fake-test';

const script: Script = {
  sessions: [
    {
      role: 'control',
      turns: [
        {
          content: [
            { type: 'text', text: 'I will delegate two tasks — ünïcode included.' },
            { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Add a farewell function to src/greet.ts' } },
            { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Add a test for math' } },
          ],
          usage: { input_tokens: 100, output_tokens: 40, cache_read_input_tokens: 7, cache_creation_input_tokens: 3 },
        },
        { content: [{ type: 'text', text: 'Reviewed: all good.' }] },
      ],
    },
    {
      role: 'impl',
      match: 'farewell',
      turns: [
        { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/greet.ts', content: 'export const farewell = (n: string) => `Bye ${n}`;\n' } }] },
      ],
    },
    { role: 'impl', turns: [{ content: [{ type: 'text', text: 'unmatched #1' }] }] },
    { role: 'impl', turns: [{ content: [{ type: 'text', text: 'unmatched #2' }] }] },
    { role: 'control', match: 'overloaded', turns: [{ content: [{ type: 'text', text: 'after 529' }], failures: [529] }] },
    { role: 'control', match: 'rate limited', turns: [{ content: [{ type: 'text', text: 'after 429' }], failures: [429], retry_after_ms: 1500 }] },
    { role: 'control', match: 'quick retry', turns: [{ content: [{ type: 'text', text: 'retried' }], failures: [429, 429], retry_after_ms: 5 }] },
    { role: 'control', match: 'server error', turns: [{ content: [{ type: 'text', text: 'after 500' }], failures: [500] }] },
    { role: 'control', match: 'drop the line', turns: [{ content: [{ type: 'text', text: 'after reset' }], failures: ['reset'] }] },
    { role: 'control', match: 'slow', turns: [{ content: [{ type: 'text', text: 'too late' }], delay_ms: 60_000 }] },
    { role: 'control', match: 'broken tool', turns: [{ content: [{ type: 'tool_use', name: 'read_file', input: { path: 'a.ts' } }], malformed: true }] },
  ],
};

function ask(first: string, system = CONTROL): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 1024, system, messages: [{ role: 'user', content: first }] };
}

describe('spec/support/fake-anthropic', () => {
  let server: FakeServer;
  let client: Anthropic;

  beforeEach(async () => {
    server = await startFakeAnthropic(script, { chunkSize: 5 });
    client = new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('answers messages.create with a real-shaped Message and records request and usage', async () => {
    const msg = await client.messages.create(ask('Plan the work'));
    expect(msg).to.include({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'tool_use', stop_sequence: null });
    expect(msg.id).to.match(/^msg_/);
    expect(msg.content).to.have.length(3);
    expect(msg.content[1]).to.deep.equal({
      type: 'tool_use', id: 'toolu_0_0_1', name: 'spawn_impl_session', input: { instructions: 'Add a farewell function to src/greet.ts' },
    });
    expect(msg.usage).to.include({ input_tokens: 100, output_tokens: 40, cache_read_input_tokens: 7, cache_creation_input_tokens: 3 });

    expect(server.requests).to.have.length(1);
    const [req] = server.requests;
    expect(req).to.include({ method: 'POST', path: '/v1/messages', status: 200, role: 'control', session: 0, turn: 0, attempt: 1, stream: false });
    // @anthropic-ai/sdk 1.x sends the key as `authorization: Bearer`; raw clients send x-api-key
    expect(req!.headers['authorization'] ?? req!.headers['x-api-key']).to.equal('[redacted]');
    expect(JSON.stringify(req!.headers)).not.to.include('test');
    const raw = await fetch(`${server.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': 'raw-key', 'content-type': 'application/json' }, body: JSON.stringify(ask('Plan the work')),
    });
    expect(raw.status).to.equal(200);
    expect(server.requests[1]!.headers['x-api-key']).to.equal('[redacted]');
    expect(req!.body.system).to.equal(CONTROL);
    expect(server.responses[0]!.usage).to.deep.equal(msg.usage);
    expect(server.responses).to.have.length(2);
  });

  it('streams SSE that messages.stream().finalMessage() assembles, tool input from input_json_delta', async () => {
    const msg = await client.messages.stream(ask('Plan the work')).finalMessage();
    expect(msg.content[0]).to.deep.include({ type: 'text', text: 'I will delegate two tasks — ünïcode included.' });
    expect(msg.content[2]).to.deep.include({ type: 'tool_use', id: 'toolu_0_0_2', name: 'spawn_impl_session', input: { instructions: 'Add a test for math' } });
    expect(msg.stop_reason).to.equal('tool_use');
    expect(msg.usage).to.include({ input_tokens: 100, output_tokens: 40, cache_read_input_tokens: 7, cache_creation_input_tokens: 3 });

    const impl = await client.messages.stream(ask('Add a farewell function', IMPL)).finalMessage();
    const block = impl.content[0] as Anthropic.ToolUseBlock;
    expect(block.input).to.deep.equal({ path: 'src/greet.ts', content: 'export const farewell = (n: string) => `Bye ${n}`;\n' });
    expect(server.requests.map((r) => r.stream)).to.deep.equal([true, true]);
  });

  it('sends the events of the real API in order', async () => {
    const stream = await client.messages.create({ ...ask('Plan the work'), stream: true });
    const types: string[] = [];
    let partial = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta' && event.index === 1) partial += event.delta.partial_json;
      if (event.type === 'message_delta') expect(event.usage.output_tokens).to.equal(40);
    }
    expect(types[0]).to.equal('message_start');
    expect(types.at(-2)).to.equal('message_delta');
    expect(types.at(-1)).to.equal('message_stop');
    expect(types.filter((t) => t === 'content_block_start')).to.have.length(3);
    expect(types.filter((t) => t === 'content_block_delta').length).to.be.greaterThan(6); // chunked
    expect(JSON.parse(partial)).to.deep.equal({ instructions: 'Add a farewell function to src/greet.ts' });
  });

  it('fails a scripted 529 with an overloaded_error body, then succeeds; a 500 with api_error', async () => {
    const err = await rejection<any>(client.messages.create(ask('we are overloaded')));
    expect(err).to.be.instanceOf(Anthropic.APIError);
    expect(err.status).to.equal(529);
    expect(err.error).to.deep.include({ type: 'error' });
    expect(err.error.error.type).to.equal('overloaded_error');
    const ok = await client.messages.create(ask('we are overloaded'));
    expect((ok.content[0] as Anthropic.TextBlock).text).to.equal('after 529');
    expect(server.requests.map((r) => [r.status, r.attempt])).to.deep.equal([[529, 1], [200, 2]]);
    expect(server.responses).to.have.length(1);

    const internal = await rejection<any>(client.messages.create(ask('a server error')));
    expect(internal).to.be.instanceOf(Anthropic.InternalServerError);
    expect(internal.error.error.type).to.equal('api_error');
  });

  it('fails a scripted 429 with retry-after headers, and the SDK retry honours them', async () => {
    const err = await rejection<any>(client.messages.create(ask('rate limited now')));
    expect(err).to.be.instanceOf(Anthropic.RateLimitError);
    expect(err.headers.get('retry-after')).to.equal('2');
    expect(err.headers.get('retry-after-ms')).to.equal('1500');
    expect(err.error.error.type).to.equal('rate_limit_error');

    const retrying = new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 2 });
    const ok = await retrying.messages.create(ask('quick retry please'));
    expect((ok.content[0] as Anthropic.TextBlock).text).to.equal('retried');
    const statuses = server.requests.filter((r) => r.body.messages[0].content === 'quick retry please').map((r) => r.status);
    expect(statuses).to.deep.equal([429, 429, 200]);
  });

  it('drops the connection for a scripted reset', async () => {
    const err = await rejection<any>(client.messages.create(ask('drop the line')));
    expect(err).to.be.instanceOf(Anthropic.APIConnectionError);
    const ok = await client.messages.create(ask('drop the line'));
    expect((ok.content[0] as Anthropic.TextBlock).text).to.equal('after reset');
  });

  it('stops waiting on a delayed answer when the client goes away', async () => {
    const abort = new AbortController();
    const pending = rejection<any>(client.messages.create(ask('slow answer'), { signal: abort.signal }));
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect(await pending).to.be.instanceOf(Anthropic.APIUserAbortError);
    while (server.requests[0]!.status !== -1) await new Promise((r) => setTimeout(r, 5));
    expect(server.responses).to.have.length(0);
  });

  it('answers 401 in the Anthropic error shape without a key or with a wrong one', async () => {
    const res = await fetch(`${server.url}/v1/messages`, { method: 'POST', body: JSON.stringify(ask('hi')), headers: { 'content-type': 'application/json' } });
    expect(res.status).to.equal(401);
    expect(await res.json()).to.deep.equal({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });

    const strict = await startFakeAnthropic(script, { apiKey: 'right' });
    try {
      const wrong = new Anthropic({ apiKey: 'wrong', baseURL: strict.url, maxRetries: 0 });
      expect(await rejection<any>(wrong.messages.create(ask('hi')))).to.be.instanceOf(Anthropic.AuthenticationError);
      const right = new Anthropic({ apiKey: 'right', baseURL: strict.url, maxRetries: 0 });
      expect((await right.messages.create(ask('hi'))).type).to.equal('message');
    } finally {
      await strict.close();
    }
  });

  it('answers 400 invalid_request_error for a request the script cannot place, and 404 elsewhere', async () => {
    const noRole = await rejection<any>(client.messages.create(ask('hi', 'You are helpful.')));
    expect(noRole).to.be.instanceOf(Anthropic.BadRequestError);
    expect(noRole.error.error.message).to.match(/cannot tell the session role/);
    const noMax = await fetch(`${server.url}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': 'k' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], system: CONTROL }),
    });
    expect(noMax.status).to.equal(400);
    expect(((await noMax.json()) as any).error.message).to.match(/^max_tokens/);
    const elsewhere = await fetch(`${server.url}/v1/complete`, { method: 'POST', headers: { 'x-api-key': 'k' }, body: '{}' });
    expect(elsewhere.status).to.equal(404);
  });

  it('matches sessions by role and `match`, the Nth distinct unmatched conversation gets the Nth entry', async () => {
    const text = async (first: string) => {
      const msg = await client.messages.create(ask(first, IMPL));
      return msg.content[0]!.type === 'text' ? msg.content[0].text : (msg.content[0] as Anthropic.ToolUseBlock).name;
    };
    expect(await text('Write a test for math')).to.equal('unmatched #1');
    expect(await text('Add a farewell function to src/greet.ts')).to.equal('write_file');
    expect(await text('Update the README')).to.equal('unmatched #2');
    expect(await text('Write a test for math')).to.equal('unmatched #1');
    expect(server.requests.map((r) => r.session)).to.deep.equal([2, 1, 3, 2]);
    const control = await client.messages.create(ask('Plan the work'));
    expect(control.content).to.have.length(3);
  });

  it('follows the turn index through a tool round trip, then ends the script', async () => {
    const first = await client.messages.create(ask('Plan the work'));
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'Plan the work' },
      { role: 'assistant', content: first.content },
      {
        role: 'user',
        content: first.content
          .filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
          .map((b) => ({ type: 'tool_result' as const, tool_use_id: b.id, content: 'done' })),
      },
    ];
    const second = await client.messages.create({ ...ask(''), messages });
    expect(second.content).to.deep.equal([{ type: 'text', text: 'Reviewed: all good.' }]);
    expect(second.stop_reason).to.equal('end_turn');
    const third = await client.messages.create({ ...ask(''), messages: [...messages, { role: 'assistant', content: second.content }, { role: 'user', content: 'more?' }] });
    expect(third.content).to.deep.equal([{ type: 'text', text: '(script ended)' }]);
  });

  it('gives a malformed tool input as a non-object, streamed or not', async () => {
    const plain = await client.messages.create(ask('broken tool'));
    expect((plain.content[0] as Anthropic.ToolUseBlock).input).to.be.a('string');
    const streamed = await client.messages.stream(ask('broken tool')).finalMessage();
    expect((streamed.content[0] as Anthropic.ToolUseBlock).input).not.to.be.an('object');
  });

  it('sums the usage of delivered answers only', async () => {
    await rejection<any>(client.messages.create(ask('we are overloaded')));
    const a = await client.messages.create(ask('we are overloaded'));
    const b = await client.messages.stream(ask('Plan the work')).finalMessage();
    const c = await client.messages.create(ask('Update the README', IMPL));
    const sum = (k: 'input_tokens' | 'output_tokens') => [a, b, c].reduce((n, m) => n + m.usage[k], 0);
    expect(server.totalUsage()).to.deep.equal({
      input_tokens: sum('input_tokens'),
      output_tokens: sum('output_tokens'),
      cache_read_input_tokens: 7,
      cache_creation_input_tokens: 3,
    });
    expect(server.responses.map((r) => r.usage.input_tokens)).to.deep.equal([a, b, c].map((m) => m.usage.input_tokens));
  });

  it('serves the SDK configured through ANTHROPIC_BASE_URL', async () => {
    const saved = process.env.ANTHROPIC_BASE_URL;
    process.env.ANTHROPIC_BASE_URL = server.url;
    try {
      const fromEnv = new Anthropic({ apiKey: 'test', maxRetries: 0 });
      expect((await fromEnv.messages.create(ask('Plan the work'))).type).to.equal('message');
    } finally {
      if (saved === undefined) delete process.env.ANTHROPIC_BASE_URL;
      else process.env.ANTHROPIC_BASE_URL = saved;
    }
  });

  it('runs as a standalone process that prints `listening <url>`', async () => {
    const fake = await startStandaloneFake('fake-anthropic.js', script);
    try {
      expect(fake.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const remote = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
      expect((await remote.messages.create(ask('Plan the work'))).usage.input_tokens).to.equal(100);
    } finally {
      const { code, stdout } = await fake.stop();
      expect(code).to.equal(0);
      expect(stdout).to.match(/total_usage \{"input_tokens":100,/);
    }
  });

  it('takes --cache and --max-prompt-tokens when standalone', async () => {
    const fake = await startStandaloneFake('fake-anthropic.js', cacheScript, ['--cache', '--max-prompt-tokens', '4000']);
    try {
      const remote = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
      const request = { model: MODEL, max_tokens: 10, tools: TOOLS, system: SYSTEM, messages: [{ role: 'user' as const, content: 'Review it' }] };
      expect((await remote.messages.create(request)).usage.cache_creation_input_tokens).to.be.greaterThan(2000);
      expect((await remote.messages.create(request)).usage.cache_read_input_tokens).to.be.greaterThan(2000);
      const tooLong = await rejection<any>(remote.messages.create({ ...request, messages: [{ role: 'user', content: filler(2000, 'Review it') }] }));
      expect(tooLong.error.error.message).to.match(/^prompt is too long: \d+ tokens > 4000 maximum$/);
    } finally {
      expect((await fake.stop()).code).to.equal(0);
    }
  });

  describe('faults', () => {
    const settled = async (seq: number, status: number) => {
      while (server.requests[seq]?.status !== status) await new Promise((r) => setTimeout(r, 5));
    };

    it('stalls before the headers: the client times out, the script is untouched', async () => {
      server.faults.push({ kind: 'stall' });
      const err = await rejection<any>(client.messages.create(ask('Plan the work'), { timeout: 300 }));
      expect(err).to.be.instanceOf(Anthropic.APIConnectionTimeoutError);
      await settled(0, -1);
      expect(server.requests[0]).to.include({ fault: 'stall', role: 'control', turn: 0, session: null, attempt: null });
      const ok = await client.messages.create(ask('Plan the work'));
      expect(ok.content).to.have.length(3);
      expect(server.requests[1]).to.include({ fault: null, attempt: 1 }); // the stalled request used no attempt
    });

    it('stalls mid-stream: some events, then silence', async () => {
      server.faults.push({ kind: 'stall-stream', events: 4 });
      const abort = new AbortController();
      const stream = await client.messages.create({ ...ask('Plan the work'), stream: true }, { signal: abort.signal });
      const seen: string[] = [];
      const reading = (async () => {
        for await (const event of stream) seen.push(event.type);
      })().catch((err) => err);
      await new Promise((r) => setTimeout(r, 300));
      // message_start, ping, content_block_start, one delta were sent; the SDK does not surface pings
      expect(seen).to.deep.equal(['message_start', 'content_block_start', 'content_block_delta']);
      abort.abort();
      await reading;
      expect(seen).not.to.include('message_stop');
      expect(server.requests[0]).to.include({ fault: 'stall-stream', status: 200 });
      expect(server.responses).to.have.length(0);
    });

    it('stalls a JSON answer half-way through its body', async () => {
      server.faults.push({ kind: 'stall-stream' });
      const abort = new AbortController();
      const pending = rejection<any>(client.messages.create(ask('Plan the work'), { signal: abort.signal }));
      await new Promise((r) => setTimeout(r, 200));
      abort.abort();
      expect((await pending).name).to.match(/Abort/); // the body read is aborted, past the SDK's error wrapping
      expect(server.requests[0]).to.include({ fault: 'stall-stream', status: 200 });
    });

    it('answers 200 with a body that is not a message: JSON, HTML, and on a stream', async () => {
      server.faults.push({ kind: 'not-a-message' }, { kind: 'not-a-message', body: '<html><body>Bad gateway</body></html>', contentType: 'text/html' }, { kind: 'not-a-message' });
      const json: any = await client.messages.create(ask('Plan the work'));
      expect(json).to.deep.equal({ hello: 1 });
      const html: any = await client.messages.create(ask('Plan the work'));
      expect(html).to.equal('<html><body>Bad gateway</body></html>');
      const streamed = await rejection<any>(client.messages.stream(ask('Plan the work')).finalMessage());
      expect(String(streamed)).to.match(/request ended without/); // JSON where events were due: no events at all
      expect(server.requests.map((r) => [r.fault, r.status])).to.deep.equal([['not-a-message', 200], ['not-a-message', 200], ['not-a-message', 200]]);
    });

    it('answers an assistant message without content, JSON and streamed', async () => {
      server.faults.push({ kind: 'no-content' }, { kind: 'no-content' });
      const json = await client.messages.create(ask('Plan the work'));
      expect(json).to.include({ type: 'message', role: 'assistant' });
      expect(json).not.to.have.property('content');
      const raw = await client.messages.create({ ...ask('Plan the work'), stream: true });
      const events: any[] = [];
      for await (const event of raw) events.push(event);
      expect(events.map((e) => e.type)).to.deep.equal(['message_start', 'message_delta', 'message_stop']);
      expect(events[0].message).not.to.have.property('content');
    });

    it('answers 401 and 403 like the API, named by the SDK', async () => {
      server.faults.push({ kind: 'status', status: 401 }, { kind: 'status', status: 403 });
      const unauthorized = await rejection<any>(client.messages.create(ask('Plan the work')));
      expect(unauthorized).to.be.instanceOf(Anthropic.AuthenticationError);
      expect(unauthorized.error).to.deep.equal({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      const forbidden = await rejection<any>(client.messages.create(ask('Plan the work')));
      expect(forbidden).to.be.instanceOf(Anthropic.PermissionDeniedError);
      expect(forbidden.error.error).to.deep.equal({ type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' });
    });

    it('resets the connection, and a picker chooses faults by role and turn', async () => {
      server.fault = (r) => (r.role === 'impl' && r.turn === 0 && r.seq === 0 ? { kind: 'reset' } : r.seq === 2 ? { kind: 'status', status: 529, retryAfterMs: 1200 } : null);
      expect(await rejection<any>(client.messages.create(ask('Update the README', IMPL)))).to.be.instanceOf(Anthropic.APIConnectionError);
      expect(server.requests[0]).to.include({ fault: 'reset', status: 0 });
      expect((await client.messages.create(ask('Update the README', IMPL))).content).to.deep.equal([{ type: 'text', text: 'unmatched #1' }]);
      const overloaded = await rejection<any>(client.messages.create(ask('Plan the work')));
      expect(overloaded.status).to.equal(529);
      expect(overloaded.headers.get('retry-after-ms')).to.equal('1200');
      expect(overloaded.error.error.type).to.equal('overloaded_error');
    });

    it('keeps the script\'s own failures working under a fault picker that declines', async () => {
      server.fault = () => null;
      expect((await rejection<any>(client.messages.create(ask('we are overloaded')))).status).to.equal(529);
      expect(((await client.messages.create(ask('we are overloaded'))).content[0] as Anthropic.TextBlock).text).to.equal('after 529');
    });
  });
});

// --- prompt cache -----------------------------------------------------------------

const REVIEWER = 'You review changes.\nchoragen role: reviewer\n';
const EPHEMERAL = { type: 'ephemeral' as const };

/** Text of about `tokens` tokens under the byte rule (4 bytes a token). */
function filler(tokens: number, seed: string): string {
  return `${seed} `.repeat(Math.ceil((tokens * 4) / (seed.length + 1))).slice(0, tokens * 4);
}

/** Tools and system of ~2,400 tokens, the same for every session, a breakpoint ending each. */
const TOOLS: Anthropic.Tool[] = ['read_file', 'write_file', 'list_dir'].map((name, i, all) => ({
  name,
  description: filler(400, `${name} does its one job`),
  input_schema: { type: 'object' as const, properties: { path: { type: 'string' } }, required: ['path'] },
  ...(i === all.length - 1 ? { cache_control: EPHEMERAL } : {}),
}));
const SYSTEM: Anthropic.TextBlockParam[] = [{ type: 'text', text: REVIEWER + filler(1200, 'review rules'), cache_control: EPHEMERAL }];

const reviewerTurns = (n: number) => Array.from({ length: n }, (_, i) => ({
  content: [{ type: 'tool_use' as const, name: 'read_file', input: { path: `src/file${i}.ts` } }],
  usage: { output_tokens: 20 },
}));
const cacheScript: Script = {
  sessions: [
    { role: 'reviewer', turns: reviewerTurns(40) },
    { role: 'reviewer', turns: reviewerTurns(40) },
    { role: 'reviewer', match: 'blocks', turns: [{ content: [{ type: 'text', text: 'ok' }] }] },
  ],
};

/** The newest block of the conversation (and only it) carries a breakpoint. */
function withRollingBreakpoint(messages: Anthropic.MessageParam[]): Anthropic.MessageParam[] {
  return messages.map((m, i) => {
    const blocks: any[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content.map((b) => ({ ...b }));
    if (i === messages.length - 1) blocks[blocks.length - 1] = { ...blocks.at(-1), cache_control: EPHEMERAL };
    return { role: m.role, content: blocks };
  });
}

describe('spec/support/fake-anthropic: prompt cache', () => {
  let server: FakeServer;
  let client: Anthropic;

  beforeEach(async () => {
    server = await startFakeAnthropic(cacheScript, { cache: true });
    client = new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  const create = (messages: Anthropic.MessageParam[], extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
    client.messages.create({ model: MODEL, max_tokens: 1024, tools: TOOLS, system: SYSTEM, messages: withRollingBreakpoint(messages), ...extra });
  const prefixTokens = promptTokens(promptBlocks({ tools: TOOLS, system: SYSTEM }));

  it('reads the tools + system prefix another session wrote, on the second session\'s first request', async () => {
    expect(prefixTokens).to.be.greaterThan(2000);
    const a = await create([{ role: 'user', content: 'Review the parser' }]);
    expect(a.usage.cache_read_input_tokens).to.equal(0);
    const whole = server.requests[0]!.promptTokens!;
    expect(a.usage.cache_creation_input_tokens).to.equal(whole); // the breakpoint ends the prompt: all of it is written
    expect(a.usage.input_tokens).to.equal(0);

    const b = await create([{ role: 'user', content: 'Review the lexer, please' }]);
    expect(server.requests[1]!.session).to.equal(1); // another conversation
    expect(b.usage.cache_read_input_tokens).to.equal(prefixTokens);
    expect(b.usage.cache_creation_input_tokens).to.equal(server.requests[1]!.promptTokens! - prefixTokens);
    expect(server.responses.map((r) => r.usage)).to.deep.equal([a.usage, b.usage]);
  });

  it('hits turn to turn in a long conversation whose breakpoint moves to the newest block', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Review all the files' }];
    const usages: Anthropic.Usage[] = [];
    for (let turn = 0; turn < 30; turn++) {
      const answer = await client.messages.stream({ model: MODEL, max_tokens: 1024, tools: TOOLS, system: SYSTEM, messages: withRollingBreakpoint(messages) }).finalMessage();
      usages.push(answer.usage);
      const use = answer.content[0] as Anthropic.ToolUseBlock;
      messages.push({ role: 'assistant', content: answer.content });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: filler(600, `contents of ${JSON.stringify(use.input)}`) }] });
    }
    for (let turn = 1; turn < 30; turn++) {
      // everything the previous request sent is read; only the new turn is written
      expect(usages[turn]!.cache_read_input_tokens, `turn ${turn}`).to.equal(server.requests[turn - 1]!.promptTokens);
      expect(usages[turn]!.cache_creation_input_tokens).to.equal(server.requests[turn]!.promptTokens! - server.requests[turn - 1]!.promptTokens!);
      expect(usages[turn]!.input_tokens).to.equal(0);
    }
    expect(server.billedInputRatio()).to.be.lessThan(0.2);
    expect(server.totalUsage().cache_read_input_tokens).to.equal(usages.reduce((n, u) => n + u.cache_read_input_tokens!, 0));
    expect(server.totalUsage().output_tokens).to.equal(30 * 20); // the script's output tokens still count
  });

  it('caches nothing under 1,024 tokens', async () => {
    const small = { model: MODEL, max_tokens: 100, system: [{ type: 'text' as const, text: REVIEWER + filler(900, 'short'), cache_control: EPHEMERAL }], messages: [{ role: 'user' as const, content: 'Review the blocks' }] };
    const first = await client.messages.create(small);
    const again = await client.messages.create(small);
    for (const usage of [first.usage, again.usage]) {
      expect(usage).to.include({ cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
      expect(usage.input_tokens).to.equal(server.requests[0]!.promptTokens);
    }
    expect(server.requests[0]!.promptTokens).to.be.within(900, 1023);
  });

  it('refuses more than 4 breakpoints like the API, and takes 4', async () => {
    const blocks = (n: number) => Array.from({ length: 5 }, (_, i) => ({ type: 'text' as const, text: `blocks part ${i}`, ...(i < n ? { cache_control: EPHEMERAL } : {}) }));
    const err = await rejection<any>(client.messages.create({ model: MODEL, max_tokens: 10, system: REVIEWER, messages: [{ role: 'user', content: blocks(5) }] }));
    expect(err).to.be.instanceOf(Anthropic.BadRequestError);
    expect(err.error.error).to.deep.equal({ type: 'invalid_request_error', message: 'A maximum of 4 blocks with cache_control may be provided. Found 5.' });
    const ok = await client.messages.create({ model: MODEL, max_tokens: 10, system: REVIEWER, messages: [{ role: 'user', content: blocks(4) }] });
    expect(ok.type).to.equal('message');
  });

  it('looks back 20 blocks from a breakpoint for a written prefix, not 21', async () => {
    const system = REVIEWER + filler(1500, 'lookback');
    const request = (suffix: string, breakpointAt: number) => client.messages.create({
      model: MODEL, max_tokens: 10, system,
      messages: [{
        role: 'user',
        content: Array.from({ length: 40 }, (_, i) => ({
          type: 'text' as const,
          text: i <= 5 ? `blocks ${i}` : `block ${i}${suffix}`,
          ...(i === breakpointAt ? { cache_control: EPHEMERAL } : {}),
        })),
      }],
    });
    const written = await request('', 5); // system (1 block) + message blocks 0..5: prefix ends at block 6
    const prefix = written.usage.cache_creation_input_tokens!;
    expect(prefix).to.be.greaterThan(1024);
    expect((await request(' changed', 25)).usage.cache_read_input_tokens).to.equal(prefix); // 20 blocks after the written one
    expect((await request(' changed again', 26)).usage.cache_read_input_tokens).to.equal(0); // 21 blocks after it
  });

  it('keys the cache per model and ignores where the breakpoint sits', async () => {
    const first = await create([{ role: 'user', content: 'Review the parser' }]);
    const otherModel = await create([{ role: 'user', content: 'Review the parser' }], { model: 'claude-other' });
    expect(otherModel.usage.cache_read_input_tokens).to.equal(0);
    // the same content with the system breakpoint dropped: the tools' breakpoint looks back to the system block's prefix
    const moved = await client.messages.create({
      model: MODEL, max_tokens: 10, tools: TOOLS, system: [{ type: 'text', text: SYSTEM[0]!.text }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Review the parser', cache_control: EPHEMERAL }] }],
    });
    expect(moved.usage.cache_read_input_tokens).to.equal(first.usage.cache_creation_input_tokens);
  });

  it('refuses a prompt over maxPromptTokens with the API\'s words, and remembers the largest prompt seen', async () => {
    const limited = await startFakeAnthropic(cacheScript, { maxPromptTokens: 3000 });
    try {
      const c = new Anthropic({ apiKey: 'test', baseURL: limited.url, maxRetries: 0 });
      const fits = await c.messages.create({ model: MODEL, max_tokens: 10, system: REVIEWER, messages: [{ role: 'user', content: filler(2000, 'Review the blocks') }] });
      expect(fits.usage.input_tokens).to.equal(limited.requests[0]!.promptTokens); // the count the limit is checked against
      const err = await rejection<any>(c.messages.create({ model: MODEL, max_tokens: 10, system: REVIEWER, messages: [{ role: 'user', content: filler(3500, 'Review the blocks') }] }));
      expect(err).to.be.instanceOf(Anthropic.BadRequestError);
      const tokens = limited.requests[1]!.promptTokens!;
      expect(err.error.error).to.deep.equal({ type: 'invalid_request_error', message: `prompt is too long: ${tokens} tokens > 3000 maximum` });
      expect(limited.largestPromptTokens).to.equal(tokens);
      expect(limited.responses).to.have.length(1);
    } finally {
      await limited.close();
    }
  });
});
