// Model endpoints that misbehave (issue 16, items 2 and 6; issue 13, the
// stall timeout): each ends with one clear line that names the endpoint, the
// right exit code, and a transcript that stays resumable. The real CLI against
// the fake Anthropic server's injected faults.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { jsonEvents, runCli } from '../../support/cli.js';
import { useFakeRun } from '../../support/fake-run.js';

const text = (t: string) => ({ type: 'text', text: t });
const read = (p: string) => ({ type: 'tool_use', name: 'read_file', input: { path: p } });
/** A port nothing listens on (it was just free). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const noStackTrace = (stderr: string) => expect(stderr).to.not.match(/\n\s+at /);

describe('model endpoints that misbehave (issues 13 and 16)', function () {
  this.timeout(60_000);
  const run = useFakeRun();
  beforeEach(() => run.workspace({ 'src/a.ts': 'export const a = 1;\n' }));

  it('--request-timeout 2 against an endpoint that never answers ends the run within seconds, naming it', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never sent')] }] }] } as any, { fault: () => ({ kind: 'stall' }) });
    const t0 = Date.now();
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--request-timeout', '2', '--max-retries', '1', '-w', run.ws], { env: run.env() });
    expect(Date.now() - t0).to.be.lessThan(20_000); // generous: two 2 s waits (a stall is retried at once)
    expect(r.code).to.equal(1);
    expect(run.server!.requests).to.have.length(2);
    expect(r.stderr).to.include(`model call failed after 1 retries: the model endpoint stopped answering (no answer within 2s, --request-timeout): ${run.server!.url}`);
    noStackTrace(r.stderr);
  });

  it('a stream that stops in the middle of an answer is aborted and retried; the call counts the retry', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('whole this time')] }] }] } as any,
      { faults: [{ kind: 'stall-stream', events: 4 }] });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--request-timeout', '1', '--json', '-w', run.ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(run.server!.requests.map((q) => q.fault)).to.deep.equal(['stall-stream', null]);
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'model_call');
    expect(calls).to.have.length(1);
    expect(calls[0].retries).to.equal(1);
    expect(jsonEvents(r.stdout).at(-1)).to.include({ status: 'completed' });
  });

  it('a 200 that is not a message, or a message without content, is retried and never reaches the transcript', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [read('src/a.ts')] }, { content: [text('done')] }] }] } as any,
      { faults: [{ kind: 'not-a-message' }, { kind: 'no-content' }, { kind: 'not-a-message', body: '<html>gateway</html>', contentType: 'text/html' }] });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--json', '-w', run.ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'model_call');
    expect(calls.map((c) => c.retries)).to.deep.equal([3, 0]);
    const id = jsonEvents(r.stdout).find((e) => e.event === 'session_started').session_id;
    const saved = JSON.parse(readFileSync(path.join(run.ws, '.choragen', 'sessions', `${id}.json`), 'utf8'));
    expect(saved.messages.map((m: any) => m.role)).to.deep.equal(['user', 'assistant', 'user', 'assistant']);
    expect(JSON.stringify(saved.messages)).to.not.match(/hello|gateway|partial answer/);
  });

  it('replies of the wrong shape until the retries run out: one clear line (exit 1), and the session resumes cleanly', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('finished after resume')] }] }] } as any,
      { fault: () => ({ kind: 'not-a-message' }) });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-retries', '1', '--json', '-w', run.ws], { env: run.env() });
    expect(r.code).to.equal(1);
    const ended = jsonEvents(r.stdout).find((e) => e.event === 'session_ended');
    expect(ended.error).to.equal('model call failed after 1 retries: the model endpoint answered with something that is not a message: an empty stream (no message_start)');
    const saved = JSON.parse(readFileSync(path.join(run.ws, '.choragen', 'sessions', `${ended.session_id}.json`), 'utf8'));
    expect(saved.messages).to.have.length(1); // the first message only: nothing of the bad replies

    run.server!.fault = undefined;
    const resumed = await runCli(['agent:resume', ended.session_id, '--json', '-w', run.ws], { env: run.env() });
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(jsonEvents(resumed.stdout).at(-1)).to.include({ status: 'completed' });
  });

  it('an error event in the middle of a stream (overloaded_error) is retried, and named as such when the retries run out', async () => {
    const overloaded = () => ({ kind: 'stream' as const, events: [
      { type: 'message_start', message: { id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-sonnet-5', content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } },
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ] });
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('after the overload')] }] }] } as any, { faults: [overloaded()] });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--json', '-w', run.ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(jsonEvents(r.stdout).filter((e) => e.event === 'model_call').map((c) => c.retries)).to.deep.equal([1]);

    run.server!.faults.push(overloaded());
    const failed = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-retries', '0', '-w', run.ws], { env: run.env() });
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include(`model call failed after 0 retries: the model endpoint reported an error in the middle of an answer (Overloaded): ${run.server!.url}`);
  });

  it('a 401 is a configuration error: exit 2, not retried, naming the key variable', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never')] }] }] } as any, { apiKey: 'the-right-key' });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', run.ws], { env: { ...run.env(), ANTHROPIC_API_KEY: 'a-wrong-key' } });
    expect(r.code).to.equal(2);
    expect(run.server!.requests).to.have.length(1);
    expect(r.stderr).to.include(`the model endpoint ${run.server!.url} refused the API key (401 invalid x-api-key): check ANTHROPIC_API_KEY`);
    expect(r.stderr).to.not.include('a-wrong-key');
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
    const r = await runCli(['agent:start', '--role', 'control', '-m', 'delegate', '--json', '-w', run.ws], { env: run.env() });
    expect(r.code).to.equal(2);
    expect(run.server!.requests.map((q) => q.role)).to.deep.equal(['control', 'impl']);
    const events = jsonEvents(r.stdout);
    expect(events.find((e) => e.event === 'notice' && e.kind === 'config_error').message).to.match(/403 .*check ANTHROPIC_API_KEY/);
    expect(events.filter((e) => e.event === 'session_ended').map((e) => e.status)).to.deep.equal(['failed', 'failed']);
    expect(events.at(-1)).to.include({ event: 'run_finished', exit_code: 2 });
  });

  it('a 404 (no such model, or not an endpoint of this API) is a configuration error: exit 2, naming what to check', async () => {
    await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [text('never')] }] }] } as any, { faults: [{ kind: 'status', status: 404, message: 'model: claude-nope' }] });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--model', 'claude-nope', '-w', run.ws], { env: run.env() });
    expect(r.code).to.equal(2);
    expect(run.server!.requests).to.have.length(1);
    expect(r.stderr).to.include(`the model endpoint ${run.server!.url} answered 404 (model: claude-nope) for model claude-nope: check --model and ANTHROPIC_BASE_URL`);
  });

  it('connection refused names the URL', async () => {
    const port = await closedPort();
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-retries', '0', '-w', run.ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`model call failed after 0 retries: connection refused: http://127.0.0.1:${port}`);
    noStackTrace(r.stderr);
  });

  it('a port fetch will not connect to (9, the discard port) is a configuration error naming the URL (exit 2)', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', run.ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('cannot connect to http://127.0.0.1:9: port 9 is on the fetch standard\'s list of blocked ports');
    noStackTrace(r.stderr);
  });

  it('ANTHROPIC_BASE_URL that is not an http(s) URL is refused before anything starts (exit 2)', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '-w', run.ws], { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'localhost:8080' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('choragen: ANTHROPIC_BASE_URL must be an http:// or https:// URL (got "localhost:8080")\n');
  });

  it('a host that does not resolve names the URL', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--max-retries', '0', '-w', run.ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://no-such-host.invalid' } });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/model call failed after 0 retries: DNS lookup failed \([^)]+\): http:\/\/no-such-host\.invalid/);
  });

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
