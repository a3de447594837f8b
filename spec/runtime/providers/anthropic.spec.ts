import type Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import type { Message } from '../../../capabilities/protocol.js';
import { InterruptedError, PromptTooLongError, ProviderError, UsageError } from '../../../policy/errors.js';
import { AnthropicProvider } from '../../../runtime/providers/anthropic.js';
import { messagesRequest } from '../../../runtime/providers/anthropic-request.js';
import { MessageAssembler } from '../../../runtime/providers/anthropic-stream.js';
import { contextWindowOf, DEFAULT_CONTEXT_WINDOW } from '../../../runtime/providers/context-windows.js';
import { connectionError, keyRefused } from '../../../runtime/providers/endpoint-errors.js';
import type { ModelCallSpec } from '../../../runtime/providers/provider.js';
import { StallGuard } from '../../../runtime/providers/stall-guard.js';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';

const spec = (messages: Message[]): ModelCallSpec => ({
  model: 'claude-sonnet-5', system: 'choragen role: impl', maxOutputTokens: 100, signal: new AbortController().signal, messages,
  tools: [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }],
});
const turn = (i: number): Message[] => [
  { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'tool_use', id: `t${i}`, name: 'read_file', input: { path: `f${i}` } }] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: `t${i}`, content: `file ${i}` }] },
];
/** Where a request's breakpoints are: 'system', or `message index/block index`. */
function breakpoints(body: Anthropic.MessageCreateParamsStreaming): string[] {
  const at: string[] = [];
  (body.system as Anthropic.TextBlockParam[]).forEach((b) => b.cache_control && at.push('system'));
  (body.tools as Anthropic.Tool[]).forEach((t) => t.cache_control && at.push('tool'));
  body.messages.forEach((m, i) => {
    if (typeof m.content !== 'string') m.content.forEach((b, j) => 'cache_control' in b && b.cache_control && at.push(`${i}/${j}`));
  });
  return at;
}

describe('Anthropic provider', () => {
  describe('prompt-cache breakpoints', () => {
    it('marks the end of the system prompt (tools + system) and the newest block on the first request', () => {
      const body = messagesRequest(spec([{ role: 'user', content: 'go' }]));
      expect(breakpoints(body)).to.deep.equal(['system', '0/0']);
      expect(body.system).to.deep.equal([{ type: 'text', text: 'choragen role: impl', cache_control: { type: 'ephemeral' } }]);
      expect(body.messages[0]!.content).to.deep.equal([{ type: 'text', text: 'go', cache_control: { type: 'ephemeral' } }]);
      expect(body).to.include({ stream: true, max_tokens: 100, model: 'claude-sonnet-5' });
    });

    it('marks the previous request\'s end and the newest block after, never more than four, and leaves the transcript alone', () => {
      const messages: Message[] = [{ role: 'user', content: 'go' }, ...turn(0), ...turn(1), ...turn(2)];
      const before = JSON.stringify(messages);
      const body = messagesRequest(spec(messages));
      expect(breakpoints(body)).to.deep.equal(['system', '4/0', '6/0']);
      expect(JSON.stringify(messages)).to.equal(before);
    });

    it('never marks a thinking block: the mark goes on the last block that can carry one', () => {
      // (a conversation that ends with the assistant's message: a prefill)
      const messages: Message[] = [{ role: 'user', content: 'go' }, { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'redacted_thinking', data: 'x' }] }];
      const body = messagesRequest(spec(messages));
      expect(breakpoints(body)).to.deep.equal(['system', '0/0', '1/0']);
    });

    it('sends the protocol blocks as the API\'s, one for one', () => {
      const messages: Message[] = [{ role: 'user', content: 'go' }, ...turn(0)];
      (messages[2]!.content as any)[0].is_error = true;
      const body = messagesRequest(spec(messages));
      expect(body.messages[1]!.content).to.deep.equal([
        { type: 'thinking', thinking: 't', signature: 's' },
        { type: 'tool_use', id: 't0', name: 'read_file', input: { path: 'f0' } },
      ]);
      expect(body.messages[2]!.content).to.deep.equal([{ type: 'tool_result', tool_use_id: 't0', content: 'file 0', is_error: true, cache_control: { type: 'ephemeral' } }]);
    });
  });

  describe('stream assembly', () => {
    const start = (extra: Record<string, unknown> = {}) => ({
      type: 'message_start',
      message: { id: 'm', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 2000, cache_creation_input_tokens: 30 }, ...extra },
    });
    const feed = (events: unknown[]) => {
      const a = new MessageAssembler();
      for (const e of events) a.add(e as Anthropic.RawMessageStreamEvent);
      return a;
    };

    it('assembles text, tool_use (input streamed as JSON), thinking and redacted_thinking; usage from start and delta', () => {
      const answer = feed([
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'let me ' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'SIG' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'opaque' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Reading ' } },
        { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'it.' } },
        { type: 'content_block_stop', index: 2 },
        { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 'tu', name: 'read_file', input: {} } },
        { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{"pa' } },
        { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: 'th":"a.ts"}' } },
        { type: 'content_block_stop', index: 3 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 42 } },
        { type: 'message_stop' },
      ]).finish();
      expect(answer).to.deep.equal({
        content: [
          { type: 'thinking', thinking: 'let me think', signature: 'SIG' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Reading it.' },
          { type: 'tool_use', id: 'tu', name: 'read_file', input: { path: 'a.ts' } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 10, output_tokens: 42, cache_read_tokens: 2000, cache_write_tokens: 30 },
        model: 'claude-x',
      });
    });

    it('drops a block of a kind it does not handle, with a notice, and keeps the rest', () => {
      const answer = feed([
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: 's', name: 'web_search', input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'text', text: 'kept' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } },
        { type: 'message_stop' },
      ]).finish();
      expect(answer.content).to.deep.equal([{ type: 'text', text: 'kept' }]);
      expect(answer.notices).to.deep.equal(['dropped a content block of a kind choragen does not handle: server_tool_use']);
    });

    it('passes a tool input that is not JSON on as its text, for the broker to refuse as invalid input', () => {
      const answer = feed([
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'tu', name: 'write_file', input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"path": "a' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 3 } },
        { type: 'message_stop' },
      ]).finish();
      expect(answer.content).to.deep.equal([{ type: 'tool_use', id: 'tu', name: 'write_file', input: '{"path": "a' }]);
    });

    it('refuses what is not a message: no message_start, no content, a stream cut before message_stop, deltas out of place', () => {
      const notAMessage = /^the model endpoint answered with something that is not a message: /;
      const refused = (events: unknown[], finish = true) => {
        try {
          const a = feed(events);
          if (finish) a.finish();
        } catch (err) {
          expect(err).to.be.instanceOf(ProviderError);
          expect((err as ProviderError).retryable).to.equal(true);
          return (err as Error).message;
        }
        throw new Error('accepted');
      };
      expect(refused([])).to.match(notAMessage).and.include('an empty stream');
      expect(refused([{ hello: 1 }])).to.match(notAMessage).and.include('does not begin with message_start');
      expect(refused([start({ content: undefined })])).to.match(notAMessage).and.include('without an assistant message with content');
      expect(refused([start(), { type: 'content_block_start', index: 0, content_block: { type: 'text', text: 'half' } }])).to.include('ended before message_stop');
      expect(refused([start(), { type: 'content_block_delta', index: 5, delta: { type: 'text_delta', text: 'x' } }])).to.include('never started');
    });

    it('never converts a model-supplied field of another type: deep arrays as stop_reason, index or given input neither crash nor overflow', () => {
      const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`);
      const a = feed([
        start({ stop_reason: deep }),
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: deep } } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: deep }, usage: { output_tokens: 5 } },
        { type: 'message_delta', delta: { stop_reason: 'tool_use' } },
        { type: 'message_stop' },
      ]);
      const done = a.finish();
      expect(done.stop_reason).to.equal('tool_use');
      // The input given whole at the start goes on as it came: the broker bounds it (input-bounds.ts).
      expect((done.content[0] as { input: unknown }).input).to.deep.equal({ path: deep });
      const bad = feed([start(), { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }]);
      expect(() => bad.add({ type: 'content_block_delta', index: deep, delta: { type: 'text_delta', text: 'x' } } as never)).to.throw(ProviderError, /never started/);
      expect(() => bad.add({ type: 'content_block_stop', index: deep } as never)).to.throw(ProviderError, /never started/);
    });

    it('counts the output arriving, for the live view', () => {
      const a = feed([start(), { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }]);
      expect(a.outputTokens).to.equal(0);
      a.add({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x'.repeat(400) } } as Anthropic.RawMessageStreamEvent);
      expect(a.outputTokens).to.equal(100);
    });
  });

  describe('stall guard', () => {
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('aborts its signal when nothing arrives within the timeout, and says so naming the endpoint', async () => {
      const guard = new StallGuard(new AbortController().signal, 50);
      await wait(250);
      expect(guard.stalled).to.equal(true);
      expect(guard.signal.aborted).to.equal(true);
      expect(guard.stallError('http://x.test').message).to.equal('the model endpoint stopped answering (no answer within 0.1s, --request-timeout): http://x.test');
      guard.dispose();
    });

    it('waits anew after each event, and names a stall in the middle of an answer as such', async () => {
      const guard = new StallGuard(new AbortController().signal, 800);
      for (let i = 0; i < 10; i++) {
        await wait(100);
        guard.touch();
      }
      expect(guard.stalled).to.equal(false); // a second of events, none more than 0.8 s apart
      await wait(2000);
      expect(guard.stalled).to.equal(true);
      expect(guard.stallError('http://x.test').message).to.include('nothing more for 0.8s in the middle of an answer');
    });

    it('follows the caller\'s abort without calling it a stall; without a timeout it never fires', async () => {
      const caller = new AbortController();
      const guard = new StallGuard(caller.signal, undefined);
      caller.abort();
      expect(guard.signal.aborted).to.equal(true);
      expect(guard.stalled).to.equal(false);
      guard.dispose();
    });
  });

  describe('endpoint errors', () => {
    const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(`connect ${code}`), { code }) });

    it('name the endpoint and what went wrong with the connection, retryable', () => {
      expect(connectionError(fetchFailed('ECONNREFUSED'), 'http://127.0.0.1:8').message).to.equal('connection refused: http://127.0.0.1:8');
      expect(connectionError(fetchFailed('ENOTFOUND'), 'http://nohost').message).to.equal('DNS lookup failed (no such host): http://nohost');
      expect(connectionError(fetchFailed('ECONNRESET'), 'http://h').message).to.equal('connection reset: http://h');
      expect(connectionError(new Error('something odd'), 'http://h').message).to.equal('connection failed (something odd): http://h');
      expect((connectionError(fetchFailed('ECONNREFUSED'), 'u') as ProviderError).retryable).to.equal(true);
    });

    it('make a blocked port and a refused key configuration errors (exit 2)', () => {
      const bad = connectionError(Object.assign(new TypeError('fetch failed'), { cause: new Error('bad port') }), 'http://127.0.0.1:9');
      expect(bad).to.be.instanceOf(UsageError);
      expect(bad.exitCode).to.equal(2);
      const key = keyRefused(401, 'invalid x-api-key', 'https://api.anthropic.com', 'ANTHROPIC_API_KEY');
      expect(key.message).to.equal('the model endpoint https://api.anthropic.com refused the API key (401 invalid x-api-key): check ANTHROPIC_API_KEY');
      expect(key.exitCode).to.equal(2);
      expect((key as ProviderError).retryable).to.equal(false);
    });
  });

  describe('against the fake server', () => {
    let server: FakeServer;
    afterEach(() => server?.close());

    const provider = () => AnthropicProvider.create({ apiKey: 'k', baseURL: server.url });

    it('streams: progress is reported while a long answer arrives, and the answer is whole', async () => {
      const long = 'word '.repeat(400);
      server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: long }] }] }] } as any, { chunkSize: 40 });
      const seen: number[] = [];
      const answer = await (await provider()).call({ ...spec([{ role: 'user', content: 'go' }]), onProgress: ({ outputTokens }) => seen.push(outputTokens) });
      expect(server.requests[0]!.stream).to.equal(true);
      expect(answer.content).to.deep.equal([{ type: 'text', text: long }]);
      expect(seen.length).to.be.greaterThan(10);
      expect(seen).to.deep.equal([...seen].sort((a, b) => a - b));
      expect(seen.at(-1)).to.equal(500);
    });

    it('passes on what retry-after asks, and tells a refused prompt from other 400s', async () => {
      server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'x' }] }] }] } as any, { faults: [
        { kind: 'status', status: 429, retryAfterMs: 1234 },
        { kind: 'status', status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' },
        // the API's words when the prompt fits but the prompt and max_tokens together do not
        { kind: 'status', status: 400, message: 'input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again' },
        { kind: 'status', status: 400, message: 'max_tokens: too large' },
      ] });
      const p = await provider();
      const ask = () => p.call(spec([{ role: 'user', content: 'go' }])).catch((e) => e);
      // any other status names the endpoint, with the endpoint's own words
      expect(await ask()).to.include({ retryable: true, status: 429, retryAfterMs: 1234,
        message: `the model endpoint answered 429 (Number of request tokens has exceeded your per-minute rate limit.): ${server.url}` });
      const tooLong = await ask();
      expect(tooLong).to.be.instanceOf(PromptTooLongError);
      expect(tooLong.message).to.equal('400 prompt is too long: 250000 tokens > 200000 maximum');
      expect(await ask()).to.be.instanceOf(PromptTooLongError);
      const other = await ask();
      expect(other).to.not.be.instanceOf(PromptTooLongError);
      expect(other).to.include({ retryable: false, status: 400, message: `the model endpoint answered 400 (max_tokens: too large): ${server.url}` });
    });

    it('a stalled endpoint fails within the stall timeout with a retryable error naming it; an abort is an interruption', async () => {
      server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'x' }] }] }] } as any, { fault: () => ({ kind: 'stall' }) });
      const p = await provider();
      const stalled = await p.call({ ...spec([{ role: 'user', content: 'go' }]), stallTimeoutMs: 300 }).catch((e) => e);
      expect(stalled).to.be.instanceOf(ProviderError);
      expect(stalled.retryable).to.equal(true);
      expect(stalled.message).to.equal(`the model endpoint stopped answering (no answer within 0.3s, --request-timeout): ${server.url}`);
      const caller = new AbortController();
      setTimeout(() => caller.abort(), 100);
      const aborted = await p.call({ ...spec([{ role: 'user', content: 'go' }]), signal: caller.signal, stallTimeoutMs: 5000 }).catch((e) => e);
      expect(aborted).to.be.instanceOf(InterruptedError);
    });
  });
});

describe('context windows', () => {
  it('knows Claude and common OpenAI models by family, takes an override, and assumes the default for others', () => {
    expect(contextWindowOf('claude-sonnet-4-5-20250929')).to.deep.equal({ tokens: 200_000, source: 'table' });
    expect(contextWindowOf('anthropic/claude-opus-4-6')).to.deep.equal({ tokens: 200_000, source: 'table' });
    expect(contextWindowOf('gpt-4o-mini').tokens).to.equal(128_000);
    expect(contextWindowOf('o1-mini').tokens).to.equal(128_000);
    expect(contextWindowOf('claude-sonnet-5', 60_000)).to.deep.equal({ tokens: 60_000, source: 'flag' });
    expect(contextWindowOf('llama3.1:8b')).to.deep.equal({ tokens: DEFAULT_CONTEXT_WINDOW, source: 'default' });
    expect(contextWindowOf('claudette')).to.deep.equal({ tokens: DEFAULT_CONTEXT_WINDOW, source: 'default' });
  });
});
