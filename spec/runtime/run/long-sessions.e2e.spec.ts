// Long sessions (issue 13): prompt caching, a context window that never
// overflows, resume after compaction. The real CLI against the fake Anthropic
// server, which bills like the prompt cache and refuses prompts over a size
// as the API does, and against the fake OpenAI-compatible one with its
// automatic cache; the 120-turn sessions are generated
// (spec/support/long-session.ts). A refusal as too long, on every provider:
// endpoints.e2e.spec.ts.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Message } from '../../../capabilities/protocol.js';
import { firstUserText } from '../../../runtime/providers/script/replay.js';
import { promptBlocks, canonicalJson } from '../../support/prompt-cache.js';
import { longSession } from '../../support/long-session.js';
import { jsonEvents, runCli } from '../../support/cli.js';
import { useFakeOpenAIRun, useFakeRun } from '../../support/fake-run.js';
import { noStackTrace } from '../../support/assertions.js';
import { metricsRows } from '../../support/run-records.js';

const messages = (q: { body: any }) => q.body.messages as Message[];
/** Tokens of a request's tools + system, as the fake's cache counts them. */
const prefixTokens = (body: any) =>
  promptBlocks({ tools: body.tools, system: body.system }).reduce((n, b) => n + b.tokens, 0);

describe('long sessions: prompt cache and context window (issue 13)', function () {
  this.timeout(120_000);
  const run = useFakeRun();
  const openai = useFakeOpenAIRun();

  it('a 120-turn session bills at most 15% of its uncached input; the recorded cache tokens are what the server reported', async () => {
    const long = longSession(120);
    const ws = run.workspace(long.files);
    const server = await run.serve(long.script, { cache: true });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', long.message, '--max-turns', '130', '--json', '-w', ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(server.responses).to.have.length(long.turns);
    expect(server.billedInputRatio()).to.be.at.most(0.15);

    const calls = jsonEvents(r.stdout).filter((e) => e.event === 'model_call');
    const sum = (k: string) => calls.reduce((n, e) => n + e[k], 0);
    const served = server.totalUsage();
    expect({ input: sum('input_tokens'), read: sum('cache_read_tokens'), write: sum('cache_write_tokens') }).to.deep.equal({
      input: served.input_tokens, read: served.cache_read_input_tokens, write: served.cache_creation_input_tokens,
    });
    // call by call too: each event carries the cache fields of its own answer
    expect(calls.map((e) => e.cache_read_tokens)).to.deep.equal(server.responses.map((s) => s.usage.cache_read_input_tokens));
    const finished = jsonEvents(r.stdout).at(-1);
    expect(finished).to.include({ event: 'run_finished', cache_read_tokens: served.cache_read_input_tokens, cache_write_tokens: served.cache_creation_input_tokens });

    // metrics: the sessions row holds the same sums, and the summary shows the hit rate
    const summary = await runCli(['metrics:summary', '--json', '-w', ws]);
    const totals = JSON.parse(summary.stdout).totals;
    expect(totals.cache_read_tokens).to.equal(served.cache_read_input_tokens);
    const prompt = served.input_tokens + served.cache_read_input_tokens + served.cache_creation_input_tokens;
    expect(totals.cache_hit_rate).to.be.closeTo(served.cache_read_input_tokens / prompt, 1e-4);
    expect(totals.cache_hit_rate).to.be.greaterThan(0.85);
    const text = await runCli(['metrics:summary', '-w', ws]);
    expect(text.stdout).to.match(/cache hit rate \d+\.\d%/);
  });

  it('a second session of the same role reads its tools + system prefix from the cache on its first request', async () => {
    const ws = run.workspace({ 'src/a.ts': 'export const a = 1;\n' });
    const session = (match: string) => ({ role: 'impl', match, turns: [
      { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'src/a.ts' } }] },
      { content: [{ type: 'text', text: `done ${match}` }] },
    ] });
    const server = await run.serve({ sessions: [session('first job'), session('second job')] } as any, { cache: true });
    const first = await runCli(['agent:start', '--role', 'impl', '-m', 'first job', '-w', ws], { env: run.env() });
    expect(first.code, first.stderr).to.equal(0);
    const second = await runCli(['agent:start', '--role', 'impl', '-m', 'second job', '-w', ws], { env: run.env() });
    expect(second.code, second.stderr).to.equal(0);

    const [a, b] = [server.requests[0]!, server.requests[2]!];
    expect(firstUserText(messages(b))).to.include('second job');
    // the prefix is the same bytes; the session's own facts are in its first message, not in the system prompt
    expect(canonicalJson(b.body.system)).to.equal(canonicalJson(a.body.system));
    expect(canonicalJson(b.body.tools)).to.equal(canonicalJson(a.body.tools));
    expect(JSON.stringify(b.body.system)).to.match(/choragen role: impl/).and.not.match(/Session: /);
    expect(firstUserText(messages(b))).to.match(/^Session: \S+ \(depth 0\)\./);
    const usage = server.responses.find((s) => s.requestSeq === b.seq)!.usage;
    expect(prefixTokens(b.body)).to.be.at.least(1024); // long enough to be cached at all
    expect(usage.cache_read_input_tokens).to.equal(prefixTokens(b.body));
    // and the final line says how much came from the cache
    expect(second.stderr).to.match(/tokens [\d,]+ in \(\d+% from cache\)/);

    // A session's tokens, wherever they are shown, count its prompt read from the cache too (as --max-tokens does):
    // input_tokens alone is only the uncached part, a few tokens of a session that cost thousands.
    const served = server.totalUsage();
    const all = served.input_tokens + served.output_tokens + served.cache_read_input_tokens + served.cache_creation_input_tokens;
    const listed = JSON.parse((await runCli(['agent:list', '--json', '-w', ws])).stdout) as Array<{ tokens: number }>;
    expect(listed.reduce((n, r) => n + r.tokens, 0)).to.equal(all);
    const byRole = JSON.parse((await runCli(['metrics:summary', '--json', '-w', ws])).stdout).sessions as Array<{ tokens: number }>;
    expect(byRole.reduce((n, r) => n + r.tokens, 0)).to.equal(all);
  });

  it('a child session (depth 1, another id) sends the same tools + system bytes as a session of its role started alone, and shares the cache with it', async () => {
    const ws = run.workspace({ 'src/a.ts': 'export const a = 1;\n' });
    const impl = (match: string) => ({ role: 'impl', match, turns: [{ content: [{ type: 'text', text: `done ${match}` }] }] });
    const server = await run.serve({ sessions: [
      { role: 'control', turns: [
        { content: [{ type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'child job' } }] },
        { content: [{ type: 'text', text: 'reviewed' }] },
      ] },
      impl('child job'), impl('solo job'),
    ] } as any, { cache: true });
    const tree = await runCli(['agent:start', '--role', 'control', '-m', 'delegate', '--max-depth', '2', '-w', ws], { env: run.env() });
    expect(tree.code, tree.stderr).to.equal(0);
    const solo = await runCli(['agent:start', '--role', 'impl', '-m', 'solo job', '--max-depth', '1', '-w', ws], { env: run.env() });
    expect(solo.code, solo.stderr).to.equal(0);

    const [child, alone] = server.requests.filter((q) => q.role === 'impl');
    expect(firstUserText(messages(child!))).to.match(/^Session: \S+ \(depth 1\)\./);
    expect(firstUserText(messages(alone!))).to.match(/^Session: \S+ \(depth 0\)\./);
    expect(JSON.stringify(alone!.body.system)).to.equal(JSON.stringify(child!.body.system));
    expect(JSON.stringify(alone!.body.tools)).to.equal(JSON.stringify(child!.body.tools));
    expect(server.responses.find((x) => x.requestSeq === alone!.seq)!.usage.cache_read_input_tokens).to.equal(prefixTokens(alone!.body));
  });

  it('with --context-window 60000 against a server refusing prompts over 60,000 tokens, 120 turns all finish (exit 0), none over the limit', async () => {
    const long = longSession(120);
    const ws = run.workspace(long.files);
    const server = await run.serve(long.script, { cache: true, maxPromptTokens: 60_000 });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', long.message, '--max-turns', '130', '--context-window', '60000', '--json', '-w', ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(server.requests.every((q) => q.status === 200)).to.equal(true);
    expect(server.largestPromptTokens).to.be.at.most(60_000);
    expect(server.responses).to.have.length(long.turns);
    expect(server.responses.at(-1)!.content).to.deep.equal([{ type: 'text', text: 'Read 120 modules.' }]);
    const events = jsonEvents(r.stdout);
    const tools = events.filter((e) => e.event === 'tool_call');
    expect(tools).to.have.length(120);
    expect(tools.every((e) => !e.is_error)).to.equal(true);

    const compactions = events.filter((e) => e.event === 'compaction');
    expect(compactions.length).to.be.within(2, 12); // large steps, not one per turn
    for (const c of compactions) {
      expect(c).to.include({ reason: 'threshold', window_tokens: 60_000, dropped_turns: 0 });
      expect(c.tokens_after).to.be.lessThan(c.tokens_before / 1.5);
    }
    // the newest turn the model acts on is always whole; older results are stubs that say how to get them again
    const last = messages(server.requests.at(-1)!);
    const stub = JSON.stringify(last).match(/\[choragen: compacted to fit the context window: the result of read_file [^\]]*\]/);
    expect(stub?.[0]).to.match(/call read_file again if you need it/);
    expect(JSON.stringify(last.at(-1))).to.include('module 119: generated');

    expect(await metricsRows(ws, 'SELECT compactions FROM sessions')).to.deep.equal([{ compactions: compactions.length }]);
  });

  it('a session that cannot fit even compacted fails with one clear line and sends nothing over the window', async () => {
    const ws = run.workspace();
    const server = await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'never' }] }] }] } as any, { maxPromptTokens: 4096 });
    const huge = 'x'.repeat(40_000); // the instructions alone are larger than the window
    const r = await runCli(['agent:start', '--role', 'impl', '-m', huge, '--context-window', '4096', '-w', ws], { env: run.env() });
    expect(r.code).to.equal(1);
    expect(server.requests).to.have.length(0);
    expect(r.stderr).to.match(/does not fit claude-sonnet-5's context window of 4,096 tokens even compacted/);
    noStackTrace(r.stderr);
  });

  it('agent:resume after a compaction continues from the compacted transcript, what the model last saw', async () => {
    const long = longSession(40, { extra: { 30: { failures: [500, 500] } } });
    const ws = run.workspace(long.files);
    const server = await run.serve(long.script, { maxPromptTokens: 30_000 });
    const flags = ['--context-window', '30000', '--max-retries', '1', '--json', '-w', ws];
    const first = await runCli(['agent:start', '--role', 'impl', '-m', long.message, ...flags], { env: run.env() });
    expect(first.code, first.stderr).to.equal(1);
    const events = jsonEvents(first.stdout);
    expect(events.filter((e) => e.event === 'compaction').length).to.be.greaterThan(0);
    const id = events.find((e) => e.event === 'session_started').session_id;
    const lastSent = messages(server.requests.at(-1)!);

    // the saved transcript is the compacted one the failed request carried
    const saved = JSON.parse(readFileSync(path.join(ws, '.choragen', 'sessions', `${id}.json`), 'utf8'));
    expect(canonicalJson(saved.messages)).to.equal(canonicalJson(lastSent));
    expect(JSON.stringify(saved.messages)).to.include('compacted to fit the context window');

    const before = server.requests.length;
    const resumed = await runCli(['agent:resume', id, ...flags], { env: run.env() });
    expect(resumed.code, resumed.stderr).to.equal(0);
    // The resumed session starts from that transcript. (Without a reported prompt to start from, the broker
    // estimates the whole one on the safe side, so it may compact further; what was compacted stays so.)
    const resumedFirst = messages(server.requests[before]!);
    expect(resumedFirst).to.have.length(lastSent.length);
    expect(canonicalJson(resumedFirst.at(-1))).to.equal(canonicalJson(lastSent.at(-1)));
    lastSent.forEach((m, i) => {
      if (JSON.stringify(m).includes('compacted to fit')) expect(canonicalJson(resumedFirst[i])).to.equal(canonicalJson(m));
    });
    expect(server.responses.at(-1)!.content).to.deep.equal([{ type: 'text', text: 'Read 40 modules.' }]);
    expect(server.largestPromptTokens).to.be.at.most(30_000);
  });

  it('on an OpenAI-compatible endpoint with its automatic prompt cache, the window holds: cached tokens count as prompt, recorded as reported', async () => {
    const long = longSession(120);
    const ws = openai.workspace(long.files);
    const server = await openai.serve(long.script, { maxPromptTokens: 60_000, cache: true });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', long.message, '--provider', 'openai', '--context-window', '60000', '--max-turns', '130', '--json', '-w', ws], { env: openai.env() });
    expect(r.code, r.stderr).to.equal(0);
    // Counting only the uncached part of each prompt (prompt_tokens includes cached_tokens) would let the conversation outgrow the window.
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

  it('a model the window table does not know gets the conservative default, said once', async () => {
    const ws = run.workspace();
    const server = await run.serve({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'ok' }] }] }] } as any);
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--model', 'my-local-model', '-w', ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr.match(/context window of my-local-model is not known: assuming 32,000 tokens \(set --context-window TOKENS\)/g)).to.have.length(1);
  });
});
