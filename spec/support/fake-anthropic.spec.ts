import Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Script } from '../../runtime/providers/script/format.js';
import { startFakeAnthropic, type FakeServer } from './fake-anthropic.js';

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

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
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
    const err = await rejection(client.messages.create(ask('we are overloaded')));
    expect(err).to.be.instanceOf(Anthropic.APIError);
    expect(err.status).to.equal(529);
    expect(err.error).to.deep.include({ type: 'error' });
    expect(err.error.error.type).to.equal('overloaded_error');
    const ok = await client.messages.create(ask('we are overloaded'));
    expect((ok.content[0] as Anthropic.TextBlock).text).to.equal('after 529');
    expect(server.requests.map((r) => [r.status, r.attempt])).to.deep.equal([[529, 1], [200, 2]]);
    expect(server.responses).to.have.length(1);

    const internal = await rejection(client.messages.create(ask('a server error')));
    expect(internal).to.be.instanceOf(Anthropic.InternalServerError);
    expect(internal.error.error.type).to.equal('api_error');
  });

  it('fails a scripted 429 with retry-after headers, and the SDK retry honours them', async () => {
    const err = await rejection(client.messages.create(ask('rate limited now')));
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
    const err = await rejection(client.messages.create(ask('drop the line')));
    expect(err).to.be.instanceOf(Anthropic.APIConnectionError);
    const ok = await client.messages.create(ask('drop the line'));
    expect((ok.content[0] as Anthropic.TextBlock).text).to.equal('after reset');
  });

  it('stops waiting on a delayed answer when the client goes away', async () => {
    const abort = new AbortController();
    const pending = rejection(client.messages.create(ask('slow answer'), { signal: abort.signal }));
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
      expect(await rejection(wrong.messages.create(ask('hi')))).to.be.instanceOf(Anthropic.AuthenticationError);
      const right = new Anthropic({ apiKey: 'right', baseURL: strict.url, maxRetries: 0 });
      expect((await right.messages.create(ask('hi'))).type).to.equal('message');
    } finally {
      await strict.close();
    }
  });

  it('answers 400 invalid_request_error for a request the script cannot place, and 404 elsewhere', async () => {
    const noRole = await rejection(client.messages.create(ask('hi', 'You are helpful.')));
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
    await rejection(client.messages.create(ask('we are overloaded')));
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
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-anthropic-'));
    const file = path.join(dir, 'script.json');
    fs.writeFileSync(file, JSON.stringify(script));
    const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-anthropic.js');
    const child = spawn(process.execPath, [entry, '--script', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      const remote = new Anthropic({ apiKey: 'test', baseURL: url, maxRetries: 0 });
      expect((await remote.messages.create(ask('Plan the work'))).usage.input_tokens).to.equal(100);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(out).to.match(/total_usage \{"input_tokens":100,/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
