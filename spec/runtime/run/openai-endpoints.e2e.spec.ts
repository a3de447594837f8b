// The OpenAI-compatible provider behaves as the Anthropic one does (issue 18
// item 3, with issue 13 and issue 16 items 2 and 6 for every provider): a
// refused key or an unknown model stops the tree with a configuration error
// (exit 2) naming what to check, a context overflow compacts and retries once,
// the stall guard, replies of the wrong shape, connection errors, budgets and
// Ctrl-C end as they do on Anthropic (endpoints.e2e, long-sessions.e2e,
// reliability.e2e). The real CLI against the fake OpenAI-compatible server.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { jsonEvents, runCli, TEST_POLICY } from '../../support/cli.js';
import { useFakeOpenAIRun } from '../../support/fake-run.js';
import { longSession } from '../../support/long-session.js';

const text = (t: string) => ({ type: 'text', text: t });
const read = (p: string) => ({ type: 'tool_use', name: 'read_file', input: { path: p } });
const noStackTrace = (stderr: string) => expect(stderr).to.not.match(/\n\s+at /);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the OpenAI-compatible endpoint behaves as the Anthropic one (issues 13, 16, 18)', function () {
  this.timeout(120_000);
  const run = useFakeOpenAIRun();
  beforeEach(() => run.workspace({ 'src/a.ts': 'export const a = 1;\n' }));
  /** agent:start on the OpenAI-compatible provider. */
  const start = (role: string, message: string, ...extra: string[]) =>
    runCli(['agent:start', '--role', role, '-m', message, '--provider', 'openai', ...extra, '-w', run.ws], { env: run.env() });
  const savedMessages = (id: string) => JSON.parse(readFileSync(path.join(run.ws, '.choragen', 'sessions', `${id}.json`), 'utf8')).messages;

  it('a 401 is a configuration error: exit 2, not retried, naming OPENAI_API_KEY and the endpoint, the key never shown', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never')] }] }] } as any, { apiKey: 'the-right-key' });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--provider', 'openai', '-w', run.ws],
      { env: { ...run.env(), OPENAI_API_KEY: 'sk-a-wrong-key-0000' } });
    expect(r.code).to.equal(2);
    expect(run.server!.requests).to.have.length(1);
    expect(r.stderr).to.include(`the model endpoint ${run.server!.url} refused the API key (401 Incorrect API key provided`);
    expect(r.stderr).to.include('check OPENAI_API_KEY');
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
    const r = await start('control', 'delegate', '--json');
    expect(r.code).to.equal(2);
    expect(run.server!.requests.map((q) => q.role)).to.deep.equal(['control', 'impl']);
    const events = jsonEvents(r.stdout);
    expect(events.find((e) => e.event === 'notice' && e.kind === 'config_error').message).to.match(/403 .*check OPENAI_API_KEY/);
    expect(events.filter((e) => e.event === 'session_ended').map((e) => e.status)).to.deep.equal(['failed', 'failed']);
    expect(events.at(-1)).to.include({ event: 'run_finished', exit_code: 2 });
  });

  it('a 404 (no such model, or a wrong base URL) is a configuration error naming --model, or the role\'s model, and OPENAI_BASE_URL', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never')] }] }] } as any,
      { faults: [{ kind: 'status', status: 404 }, { kind: 'status', status: 404 }] });
    const r = await start('impl', 'x', '--model', 'gpt-nope');
    expect(r.code).to.equal(2);
    expect(run.server!.requests).to.have.length(1);
    expect(r.stderr).to.include(`the model endpoint ${run.server!.url} answered 404 (The model \`gpt-nope\` does not exist or you do not have access to it.) for model gpt-nope: check --model and OPENAI_BASE_URL`);
    noStackTrace(r.stderr);

    // A model set by the role in the policy is named there, not as --model.
    writeFileSync(path.join(run.ws, 'choragen.governance.yaml'), TEST_POLICY.replace('roles:\n  impl:\n', 'roles:\n  impl:\n    model: gpt-nope-2\n'));
    const role = await start('impl', 'x');
    expect(role.code).to.equal(2);
    expect(role.stderr).to.include('for model gpt-nope-2: check roles.impl.model in the policy and OPENAI_BASE_URL');
  });

  it('context_length_exceeded compacts harder and retries once, as "prompt is too long" does', async () => {
    const long = longSession(40);
    run.workspace(long.files);
    const server = await run.serve(long.script, { maxPromptTokens: 30_000 });
    // The window claimed is larger than what the endpoint accepts.
    const r = await start('impl', long.message, '--context-window', '100000', '--json');
    expect(r.code, r.stderr).to.equal(0);
    expect(server.responses).to.have.length(long.turns);
    const refused = server.requests.filter((q) => q.status === 400);
    expect(refused).to.have.length(1); // the refusal names the maximum, and the session keeps under it from then on
    const events = jsonEvents(r.stdout);
    expect(events.filter((e) => e.event === 'compaction')[0]).to.include({ reason: 'prompt_too_long' });
    expect(events.filter((e) => e.event === 'model_call' && e.retries > 0)).to.have.length(1);
  });

  it('the context window holds with the prompt cache: cached tokens are part of the prompt, recorded as the endpoint reported them', async () => {
    const long = longSession(120);
    run.workspace(long.files);
    const server = await run.serve(long.script, { maxPromptTokens: 60_000, cache: true });
    const r = await start('impl', long.message, '--context-window', '60000', '--max-turns', '130', '--json');
    expect(r.code, r.stderr).to.equal(0);
    // Counting only the uncached part of each prompt would let the conversation grow past the window and be refused.
    expect(server.requests.every((q) => q.status === 200)).to.equal(true);
    expect(server.largestPromptTokens).to.be.at.most(60_000);
    expect(server.responses).to.have.length(long.turns);
    const events = jsonEvents(r.stdout);
    expect(events.filter((e) => e.event === 'compaction').length).to.be.greaterThan(0);
    const calls = events.filter((e) => e.event === 'model_call');
    const sent = server.responses.map((x) => x.usage);
    expect(calls.map((c) => c.cache_read_tokens)).to.deep.equal(sent.map((u) => u.cached_tokens));
    expect(calls.map((c) => c.input_tokens)).to.deep.equal(sent.map((u) => u.prompt_tokens - u.cached_tokens));
    expect(sent.filter((u) => u.cached_tokens > 0).length).to.be.greaterThan(long.turns / 2);
  });

  it('--request-timeout 2 against an endpoint that never answers ends the run within seconds, naming it', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never sent')] }] }] } as any, { fault: () => ({ kind: 'stall' }) });
    const t0 = Date.now();
    const r = await start('impl', 'x', '--request-timeout', '2', '--max-retries', '1');
    expect(Date.now() - t0).to.be.lessThan(20_000); // generous: two 2 s waits
    expect(r.code).to.equal(1);
    expect(run.server!.requests).to.have.length(2);
    expect(r.stderr).to.include(`model call failed after 1 retries: the model endpoint stopped answering (no answer within 2s, --request-timeout): ${run.server!.url}`);
    noStackTrace(r.stderr);
  });

  it('a stream that stops in the middle of an answer is aborted and retried; the call counts the retry', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('whole this time')] }] }] } as any,
      { faults: [{ kind: 'stall-stream', events: 4 }] });
    const r = await start('impl', 'x', '--request-timeout', '1', '--json');
    expect(r.code, r.stderr).to.equal(0);
    expect(run.server!.requests.map((q) => q.fault)).to.deep.equal(['stall-stream', null]);
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'model_call');
    expect(calls.map((c) => c.retries)).to.deep.equal([1]);
    expect(jsonEvents(r.stdout).at(-1)).to.include({ status: 'completed' });
  });

  it('a 200 that is not a chat completion, or a message without content, is retried and never reaches the transcript', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('done')] }] }] } as any,
      { faults: [{ kind: 'not-a-message' }, { kind: 'no-content' }, { kind: 'not-a-message', body: '<html>gateway</html>', contentType: 'text/html' }] });
    const r = await start('impl', 'x', '--json');
    expect(r.code, r.stderr).to.equal(0);
    expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([3, 0]);
    const id = jsonEvents(r.stdout).find((e) => e.event === 'session_started').session_id;
    const saved = savedMessages(id);
    expect(saved.map((m: any) => m.role)).to.deep.equal(['user', 'assistant', 'user', 'assistant']);
    expect(JSON.stringify(saved)).to.not.match(/hello|gateway|partial answer/);
  });

  it('replies of the wrong shape until the retries run out: one clear line (exit 1), and the session resumes cleanly', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('finished after resume')] }] }] } as any,
      { fault: () => ({ kind: 'no-content' }) });
    const r = await start('impl', 'x', '--max-retries', '1', '--json');
    expect(r.code).to.equal(1);
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended.error).to.equal('model call failed after 1 retries: the model endpoint answered with something that is not a message: an assistant message without content');
    expect(savedMessages(ended.session_id)).to.have.length(1);

    run.server!.fault = undefined;
    const resumed = await runCli(['agent:resume', ended.session_id, '--json', '-w', run.ws], { env: run.env() });
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(jsonEvents(resumed.stdout).find((e) => e.event === 'session_started')).to.include({ provider: 'openai' });
    expect(jsonEvents(resumed.stdout).at(-1)).to.include({ status: 'completed' });
  });

  it('an error chunk in the middle of a stream is retried, and named as such when the retries run out', async () => {
    const overloaded = () => ({ kind: 'stream' as const, events: [{ error: { message: 'Overloaded', type: 'server_error', param: null, code: null } }] });
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('after the overload')] }] }] } as any, { faults: [overloaded()] });
    const r = await start('impl', 'x', '--json');
    expect(r.code, r.stderr).to.equal(0);
    expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([1]);

    run.server!.faults.push(overloaded());
    const failed = await start('impl', 'x', '--max-retries', '0');
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include(`model call failed after 0 retries: the model endpoint reported an error in the middle of an answer (Overloaded): ${run.server!.url}`);
  });

  it('connection refused names the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/v1`;
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--provider', 'openai', '--max-retries', '0', '-w', run.ws],
      { env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`model call failed after 0 retries: connection refused: ${url}`);
    noStackTrace(r.stderr);
  });

  it('stops the tree at the token budget and at the cost budget: exit 3, no call after the budget is spent', async () => {
    const turns = Array.from({ length: 20 }, () => ({ usage: { input_tokens: 1000, output_tokens: 100 }, content: [read('src/a.ts')] }));
    await run.serve({ sessions: [{ role: 'impl', match: 'loop', turns }, { role: 'impl', match: 'spend', turns: turns.map((t) => ({ ...t, usage: { input_tokens: 100_000, output_tokens: 0 } })) }] } as any);
    const tokens = await start('impl', 'loop', '--max-tokens', '3500', '--json');
    expect(tokens.code, tokens.stderr).to.equal(3);
    // 1100 tokens a call: calls 1-3 leave 3300 < 3500, call 4 crosses it, and no 5th call starts.
    expect(run.server!.requests).to.have.length(4);
    expect(jsonEvents(tokens.stdout).find((e) => e.event === 'session_ended').status).to.equal('budget_exceeded');

    // gpt-5-mini is priced at $0.25 per million input tokens: 100,000 cost $0.025 a call.
    const cost = await start('impl', 'spend', '--model', 'gpt-5-mini', '--max-cost', '0.06', '--json');
    expect(cost.code, cost.stderr).to.equal(3);
    expect(run.server!.requests).to.have.length(4 + 3); // $0.025, $0.05, $0.075: the third crosses $0.06
    expect(jsonEvents(cost.stdout).at(-1)).to.include({ status: 'budget_exceeded', exit_code: 3 });
  });

  it('SIGINT in the middle of a streamed answer: exit 130 quickly, session interrupted, audit log verifies', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never')] }] }] } as any, { faults: [{ kind: 'stall-stream', events: 3 }] });
    let sentAt = 0;
    const server = run.server!;
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--provider', 'openai', '--json', '-w', run.ws], {
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
    expect(Date.now() - sentAt).to.be.lessThan(10_000);
    expect(jsonEvents(r.stdout).find((e) => e.event === 'session_ended').status).to.equal('interrupted');
    const ended = jsonEvents(r.stdout).at(-1);
    expect(ended).to.include({ exit_code: 130 });
    const dir = path.join(run.ws, '.choragen', 'audit');
    expect(verifyAuditFile(path.join(dir, `${jsonEvents(r.stdout).find((e) => e.event === 'session_started').session_id}.jsonl`)).ok).to.equal(true);
  });
});
