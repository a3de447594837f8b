// Model endpoints that misbehave (issue 16, items 2 and 6; issue 13, the stall
// timeout and the context window; issue 18 item 3: "retries, budgets,
// timeouts and Ctrl-C behave exactly as for Anthropic"). One list, run for
// every networked provider against its fake server: each case ends with one
// clear line that names the endpoint and what to check, the right exit code,
// and a transcript that stays resumable.
import { expect } from 'chai';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Script } from '../../../runtime/providers/script/format.js';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { noStackTrace } from '../../support/assertions.js';
import { jsonEvents, runCli, TEST_POLICY } from '../../support/cli.js';
import { closedPort, type Fault, type FakeModelServer, type FakeModelServerOptions } from '../../support/fake-http.js';
import { type FakeRun, useFakeOpenAIRun, useFakeRun } from '../../support/fake-run.js';
import { longSession } from '../../support/long-session.js';

const text = (t: string) => ({ type: 'text', text: t });
const read = (p: string) => ({ type: 'tool_use', name: 'read_file', input: { path: p } });
const one = (content: unknown[]) => ({ sessions: [{ role: 'impl', turns: [{ content }] }] }) as unknown as Script;

interface Provider {
  name: 'anthropic' | 'openai';
  useRun(): FakeRun<FakeModelServer, FakeModelServerOptions>;
  /** The agent:start flags that choose it. */
  flags: string[];
  key: string;
  url: string;
  /** Its base URL for `host:port`, as the variable holds it. */
  baseUrl(hostPort: string): string;
  /** A 500 in the endpoint's words, as its fake sends one. */
  serverError: string;
  /** An error event in the middle of an answer, as this API streams one. */
  overloadedMidStream(): Fault;
  /** A model of its price table and what 100,000 input tokens of it cost. */
  priced: { model: string; usdPer100k: number };
}

const PROVIDERS: Provider[] = [
  {
    name: 'anthropic', useRun: useFakeRun, flags: [], key: 'ANTHROPIC_API_KEY', url: 'ANTHROPIC_BASE_URL',
    baseUrl: (hostPort) => `http://${hostPort}`,
    serverError: 'Internal server error',
    overloadedMidStream: () => ({ kind: 'stream', events: [
      { type: 'message_start', message: { id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-sonnet-5', content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } },
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ] }),
    priced: { model: 'claude-sonnet-5', usdPer100k: 0.3 },
  },
  {
    name: 'openai', useRun: useFakeOpenAIRun, flags: ['--provider', 'openai'], key: 'OPENAI_API_KEY', url: 'OPENAI_BASE_URL',
    baseUrl: (hostPort) => `http://${hostPort}/v1`,
    serverError: 'The server had an error while processing your request. Sorry about that!',
    overloadedMidStream: () => ({ kind: 'stream', events: [{ error: { message: 'Overloaded', type: 'server_error', param: null, code: null } }] }),
    priced: { model: 'gpt-5-mini', usdPer100k: 0.025 },
  },
];

for (const provider of PROVIDERS) {
  describe(`model endpoints that misbehave, on ${provider.name} (issues 13, 16, 18)`, function () {
    this.timeout(60_000);
    const run = provider.useRun();
    beforeEach(() => run.workspace({ 'src/a.ts': 'export const a = 1;\n' }));
    /** agent:start of an impl session on this provider. */
    const start = (message: string, extra: string[] = [], env = run.env()) =>
      runCli(['agent:start', '--role', 'impl', '-m', message, ...provider.flags, ...extra, '-w', run.ws], { env });
    const at = (hostPort: string) => ({ [provider.key]: 'k', [provider.url]: provider.baseUrl(hostPort) });
    const savedMessages = (id: string) => JSON.parse(readFileSync(path.join(run.ws, '.choragen', 'sessions', `${id}.json`), 'utf8')).messages;

    it('--request-timeout 2 against an endpoint that never answers ends the run within seconds, naming it', async () => {
      await run.serve(one([text('never sent')]), { fault: () => ({ kind: 'stall' }) });
      const t0 = Date.now();
      const r = await start('x', ['--request-timeout', '2', '--max-retries', '1']);
      expect(Date.now() - t0).to.be.lessThan(20_000); // generous: two 2 s waits (a stall is retried at once)
      expect(r.code).to.equal(1);
      expect(run.server!.requests).to.have.length(2);
      expect(r.stderr).to.include(`model call failed after 1 retry: the model endpoint stopped answering (no answer within 2s, --request-timeout): ${run.server!.url}`);
      noStackTrace(r.stderr);
    });

    it('a stream that stops in the middle of an answer is aborted and retried; the call counts the retry', async () => {
      await run.serve(one([text('whole this time')]), { faults: [{ kind: 'stall-stream', events: 4 }] });
      const r = await start('x', ['--request-timeout', '1', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      expect(run.server!.requests.map((q) => q.fault)).to.deep.equal(['stall-stream', null]);
      expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([1]);
      expect(jsonEvents(r.stdout).at(-1)).to.include({ status: 'completed' });
    });

    it('a 200 that is not a message, or a message without content, is retried and never reaches the transcript', async () => {
      await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('done')] }] }] } as any,
        { faults: [{ kind: 'not-a-message' }, { kind: 'no-content' }, { kind: 'not-a-message', body: '<html>gateway</html>', contentType: 'text/html' }] });
      const r = await start('x', ['--json']);
      expect(r.code, r.stderr).to.equal(0);
      expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([3, 0]);
      const saved = savedMessages(jsonEvents(r.stdout).find((e) => e.event === 'session_started').session_id);
      expect(saved.map((m: any) => m.role)).to.deep.equal(['user', 'assistant', 'user', 'assistant']);
      expect(JSON.stringify(saved)).to.not.match(/hello|gateway|partial answer/);
    });

    it('replies of the wrong shape until the retries run out: one clear line (exit 1); agent:resume carries on, on the same provider', async () => {
      await run.serve(one([text('finished after resume')]), { fault: () => ({ kind: 'not-a-message' }) });
      const r = await start('x', ['--max-retries', '1', '--json']);
      expect(r.code).to.equal(1);
      const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
      // A JSON object is no event stream at all: said so, naming the endpoint.
      expect(ended.error).to.equal(`model call failed after 1 retry: the model endpoint answered with something that is not a message: an application/json body, not an event stream: ${run.server!.url}`);
      expect(savedMessages(ended.session_id)).to.have.length(1); // the first message only: nothing of the bad replies

      run.server!.fault = undefined;
      // No --provider: the session resumes where it ran (and takes agent:start's run flags).
      const resumed = await runCli(['agent:resume', ended.session_id, '--max-depth', '1', '--no-record-commits', '--json', '-w', run.ws], { env: run.env() });
      expect(resumed.code, resumed.stderr).to.equal(0);
      expect(jsonEvents(resumed.stdout).find((e) => e.event === 'session_started')).to.include({ provider: provider.name });
      expect(jsonEvents(resumed.stdout).at(-1)).to.include({ status: 'completed' });
    });

    it('a gateway\'s HTML page and a 5xx name the endpoint and what it sent, once the retries run out', async () => {
      await run.serve(one([text('never')]), { faults: [
        { kind: 'not-a-message', body: '<html>502 Bad Gateway</html>', contentType: 'text/html; charset=utf-8' },
        { kind: 'status', status: 500 }, { kind: 'status', status: 500 },
      ] });
      const html = await start('x', ['--max-retries', '0']);
      expect(html.code).to.equal(1);
      expect(html.stderr).to.include(`model call failed after 0 retries: the model endpoint answered with something that is not a message: a text/html body, not an event stream: ${run.server!.url}\n`);
      const failed = await start('x', ['--max-retries', '1']);
      expect(failed.code).to.equal(1);
      expect(failed.stderr).to.include(`model call failed after 1 retry: the model endpoint answered 500 (${provider.serverError}): ${run.server!.url}\n`);
      noStackTrace(failed.stderr);
    });

    it('an error event in the middle of a stream is retried, and named as such when the retries run out', async () => {
      await run.serve(one([text('after the overload')]), { faults: [provider.overloadedMidStream()] });
      const r = await start('x', ['--json']);
      expect(r.code, r.stderr).to.equal(0);
      expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([1]);

      run.server!.faults.push(provider.overloadedMidStream());
      const failed = await start('x', ['--max-retries', '0']);
      expect(failed.code).to.equal(1);
      expect(failed.stderr).to.include(`model call failed after 0 retries: the model endpoint reported an error in the middle of an answer (Overloaded): ${run.server!.url}`);
    });

    it('tool calls whose arguments are not JSON are tool errors the model sees; the session goes on and the next call runs', async () => {
      await run.serve({ sessions: [{ role: 'impl', turns: [
        { malformed: true, content: [read('src/a.ts'), { type: 'tool_use', name: 'list_files', input: {} }] },
        { content: [read('src/a.ts')] },
        { content: [text('read it after all')] },
      ] }] } as any);
      const r = await start('x', ['--json']);
      expect(r.code, r.stderr).to.equal(0);
      const events = jsonEvents(r.stdout);
      const calls = events.filter((e) => e.event === 'tool_call');
      expect(calls.map((c) => [c.tool, c.decision, c.is_error])).to.deep.equal([['read_file', 'invalid', true], ['list_files', 'invalid', true], ['read_file', 'allow', false]]);
      for (const c of calls.slice(0, 2)) expect(c.error).to.match(new RegExp(`^invalid input for ${c.tool}: `));
      expect(run.server!.requests).to.have.length(3);
      // The model saw both refusals (one result per call, matched by id) before its next turn.
      expect(JSON.stringify(run.server!.requests[1]!.body.messages)).to.contain('invalid input for read_file').and.contain('invalid input for list_files');
      expect(events.at(-1)).to.include({ status: 'completed' });
    });

    it(`a 401 is a configuration error: exit 2, not retried, naming ${provider.key}, the key never shown`, async () => {
      await run.serve(one([text('never')]), { apiKey: 'the-right-key' });
      const r = await start('x', [], { ...run.env(), [provider.key]: 'sk-a-wrong-key-0000' });
      expect(r.code).to.equal(2);
      expect(run.server!.requests).to.have.length(1);
      expect(r.stderr).to.include(`the model endpoint ${run.server!.url} refused the API key (401 `);
      expect(r.stderr).to.include(`: check ${provider.key}\n`);
      expect(r.stderr).to.not.include('sk-a-wrong-key-0000');
      noStackTrace(r.stderr);
    });

    it('a 403 met by a child session stops the whole tree: exit 2, the parent makes no further call', async () => {
      await run.serve({ sessions: [
        { role: 'control', turns: [
          { content: [{ type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Create src/b.ts.' } }] },
          { content: [text('reviewed')] },
        ] },
        { role: 'impl', turns: [{ content: [text('never')] }] },
      ] } as any, { fault: (q) => (q.role === 'impl' ? { kind: 'status', status: 403 } : null) });
      const r = await runCli(['agent:start', '--role', 'control', '-m', 'delegate', ...provider.flags, '--json', '-w', run.ws], { env: run.env() });
      expect(r.code).to.equal(2);
      expect(run.server!.requests.map((q) => q.role)).to.deep.equal(['control', 'impl']);
      const events = jsonEvents(r.stdout);
      expect(events.find((e) => e.event === 'notice' && e.kind === 'config_error').message).to.match(new RegExp(`403 .*check ${provider.key}`));
      expect(events.filter((e) => e.event === 'session_ended').map((e) => e.status)).to.deep.equal(['failed', 'failed']);
      expect(events.at(-1)).to.include({ event: 'run_finished', exit_code: 2 });
    });

    it(`a 404 (no such model, or a wrong base URL) is a configuration error: exit 2, naming --model or the role's model, and ${provider.url}`, async () => {
      await run.serve(one([text('never')]), { faults: [{ kind: 'status', status: 404 }, { kind: 'status', status: 404 }] });
      const r = await start('x', ['--model', 'model-nope']);
      expect(r.code).to.equal(2);
      expect(run.server!.requests).to.have.length(1);
      expect(r.stderr).to.include(`the model endpoint ${run.server!.url} answered 404 (`);
      expect(r.stderr).to.include(`) for model model-nope: check --model and ${provider.url}\n`);
      noStackTrace(r.stderr);

      // A model the role sets in the policy is named there, not as --model.
      writeFileSync(path.join(run.ws, 'choragen.governance.yaml'), TEST_POLICY.replace('roles:\n  impl:\n', 'roles:\n  impl:\n    model: model-nope-2\n'));
      const role = await start('x');
      expect(role.code).to.equal(2);
      expect(role.stderr).to.include(`for model model-nope-2: check roles.impl.model in the policy and ${provider.url}\n`);
    });

    it('connection refused names the URL', async () => {
      const env = at(`127.0.0.1:${await closedPort()}`);
      const r = await start('x', ['--max-retries', '0'], env);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`model call failed after 0 retries: connection refused: ${env[provider.url]}`);
      noStackTrace(r.stderr);
    });

    it('a port fetch will not connect to (9, the discard port) is a configuration error naming the URL (exit 2)', async () => {
      const r = await start('x', [], at('127.0.0.1:9'));
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include(`cannot connect to ${provider.baseUrl('127.0.0.1:9')}: port 9 is on the fetch standard's list of blocked ports`);
      noStackTrace(r.stderr);
    });

    it(`${provider.url} that is not an http(s) URL is refused before anything starts (exit 2)`, async () => {
      const r = await start('x', [], { [provider.key]: 'k', [provider.url]: 'localhost:8080' });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(`choragen: ${provider.url} must be an http:// or https:// URL (got "localhost:8080")\n`);
    });

    it('a host that does not resolve names the URL', async () => {
      const env = at('no-such-host.invalid');
      const r = await start('x', ['--max-retries', '0'], env);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`model call failed after 0 retries: DNS lookup failed (`);
      expect(r.stderr).to.include(`): ${env[provider.url]}`);
    });

    it('when the endpoint says the prompt is too long, the conversation is compacted harder and the call made once more', async () => {
      const long = longSession(40);
      run.workspace(long.files);
      const server = await run.serve(long.script, { maxPromptTokens: 30_000 });
      // The window claimed is larger than what the endpoint accepts.
      const r = await start(long.message, ['--context-window', '100000', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      expect(server.requests.filter((q) => q.status === 200)).to.have.length(long.turns);
      // The refusal names the maximum, and the session keeps under it from then on.
      expect(server.requests.filter((q) => q.status === 400)).to.have.length(1);
      const events = jsonEvents(r.stdout);
      expect(events.filter((e) => e.event === 'compaction')[0]).to.include({ reason: 'prompt_too_long' });
      expect(events.filter((e) => e.event === 'model_call' && e.retries > 0)).to.have.length(1);
    });

    it('when the endpoint still says the prompt is too long after the harder compaction: one retry, then one clear line (exit 1)', async () => {
      await run.serve(one([text('never')]), { fault: () => ({ kind: 'status', status: 400, message: 'prompt is too long: 250000 tokens > 200000 maximum' }) });
      const r = await start('x');
      expect(r.code).to.equal(1);
      expect(run.server!.requests).to.have.length(2);
      expect(r.stderr).to.match(/failed: the conversation does not fit \S+'s context window even compacted \(400 prompt is too long: 250000 tokens > 200000 maximum\); give a larger --context-window if the model has one, or start a new session\n/);
      noStackTrace(r.stderr);
    });

    it('stops the tree at the token budget and at the cost budget (priced per model): exit 3, no call after the budget is spent', async () => {
      const turns = (usage: object) => Array.from({ length: 20 }, () => ({ usage, content: [read('src/a.ts')] }));
      await run.serve({ sessions: [
        { role: 'impl', match: 'loop', turns: turns({ input_tokens: 1000, output_tokens: 100 }) },
        { role: 'impl', match: 'spend', turns: turns({ input_tokens: 100_000, output_tokens: 0 }) },
      ] } as any);
      const tokens = await start('loop', ['--max-tokens', '3500', '--json']);
      expect(tokens.code, tokens.stderr).to.equal(3);
      // 1100 tokens a call: calls 1-3 leave 3300 < 3500, call 4 crosses it, and no 5th call starts.
      expect(run.server!.requests).to.have.length(4);
      const events = jsonEvents(tokens.stdout);
      expect(events.find((e) => e.event === 'session_ended').status).to.equal('budget_exceeded');
      expect(events.some((e) => e.event === 'notice' && e.kind === 'budget_warning')).to.equal(true);
      expect(events.at(-1)).to.include({ status: 'budget_exceeded', exit_code: 3 });

      // 100,000 input tokens a call at the model's price: the third call crosses 2.5 calls' worth, no fourth starts.
      const { model, usdPer100k } = provider.priced;
      const cost = await start('spend', ['--model', model, '--max-cost', String(usdPer100k * 2.5), '--json']);
      expect(cost.code, cost.stderr).to.equal(3);
      expect(run.server!.requests).to.have.length(4 + 3);
      expect(jsonEvents(cost.stdout).at(-1)).to.include({ status: 'budget_exceeded', exit_code: 3 });
    });

    it('SIGINT in the middle of a streamed answer: exit 130 quickly, session interrupted, audit log verifies', async () => {
      const server = await run.serve(one([text('never')]), { faults: [{ kind: 'stall-stream', events: 3 }] });
      let sentAt = 0;
      const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', ...provider.flags, '--json', '-w', run.ws], {
        env: run.env(),
        onSpawn: (child) => {
          const poll = setInterval(() => {
            if (server.requests.length > 0) {
              clearInterval(poll);
              sentAt = Date.now();
              child.kill('SIGINT');
            }
          }, 20);
        },
      });
      expect(r.code, r.stderr).to.equal(130);
      expect(Date.now() - sentAt).to.be.lessThan(10_000); // generous; the contract (2 s) is measured by the bench
      expect(jsonEvents(r.stdout).find((e) => e.event === 'session_ended').status).to.equal('interrupted');
      const dir = path.join(run.ws, '.choragen', 'audit');
      for (const f of readdirSync(dir)) expect(verifyAuditFile(path.join(dir, f)).ok, f).to.equal(true);
    });
  });
}

describe('request timeout and context window flags', function () {
  this.timeout(30_000);
  const run = useFakeRun();
  beforeEach(() => run.workspace());

  it('--request-timeout and --context-window refuse values that make no sense, with one line (exit 2)', async () => {
    for (const [flag, value, says] of [
      ['--request-timeout', '0', /--request-timeout must be a positive number/],
      ['--request-timeout', 'soon', /--request-timeout must be a positive number/],
      ['--request-timeout', '3000000', /--request-timeout must be at most 86400 seconds/],
      ['--context-window', '100', /--context-window must be at least 4096 tokens/],
      ['--context-window', '1.5k', /--context-window must be a whole number/],
    ] as const) {
      const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', flag, value, '-w', run.ws], { env: { ANTHROPIC_API_KEY: 'k' } });
      expect(r.code, `${flag} ${value}`).to.equal(2);
      expect(r.stderr).to.match(says);
    }
  });
});
