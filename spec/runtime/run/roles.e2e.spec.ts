// Roles as data, end to end (issue 18): the real CLI and workers, control and
// impl on the fake Anthropic server, a reviewer defined only in the policy
// file on the fake OpenAI-compatible server. Control spawns the reviewer and
// an impl in one message; the reviewer gets its prompt file, its model and
// exactly its tools, cannot use another, and every session's tokens are
// recorded as its endpoint reported them.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { type FakeOpenAI, startFakeOpenAI, systemTextOf, toolNamesOf } from '../../support/fake-openai.js';
import { jsonEvents, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const REVIEWER_PROMPT = 'You are the team\'s reviewer. Read the change, judge it, report. You never edit.\n';

const POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: ".choragen/**" }
reads:
  deny:
    - { pattern: "**/.env*" }
roles:
  control:
    allow: [{ pattern: "docs/**" }]
    spawns: [impl, reviewer]
  impl:
    allow: [{ pattern: "src/**" }]
    model: claude-haiku-4-5
  reviewer:
    description: Reads the change and reports
    prompt: docs/roles/reviewer.md
    tools: [read_file, list_files, git_diff, complete_task]
    provider: openai
    model: gpt-5-mini
limits: { max_depth: 2, max_parallel: 4 }
`;

const REVIEWER_TOOLS = ['read_file', 'list_files', 'git_diff', 'complete_task'];

const ANTHROPIC_SCRIPT = {
  sessions: [
    { role: 'control', turns: [
      { usage: { input_tokens: 1200, output_tokens: 90, cache_read_input_tokens: 0, cache_creation_input_tokens: 400 }, content: [
        { type: 'text', text: 'Implement and review in parallel.' },
        { type: 'tool_use', id: 'toolu_review', name: 'spawn_session', input: { role: 'reviewer', instructions: 'REVIEW src/index.ts and say what is wrong.' } },
        { type: 'tool_use', id: 'toolu_impl', name: 'spawn_impl_session', input: { instructions: 'IMPLEMENT src/alpha.ts exporting alpha = 1.' } },
        { type: 'tool_use', id: 'toolu_self', name: 'spawn_session', input: { role: 'control', instructions: 'a control under control' } },
      ] },
      { usage: { input_tokens: 300, output_tokens: 20, cache_read_input_tokens: 1600, cache_creation_input_tokens: 0 }, content: [{ type: 'text', text: 'Done: implemented and reviewed.' }] },
    ] },
    { role: 'impl', match: 'IMPLEMENT', turns: [
      { usage: { input_tokens: 700, output_tokens: 40 }, content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/alpha.ts', content: 'export const alpha = 1;\n' } }] },
      { usage: { input_tokens: 800, output_tokens: 12 }, content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'wrote src/alpha.ts' } }] },
    ] },
  ],
};

const OPENAI_SCRIPT = {
  sessions: [
    { role: 'reviewer', turns: [
      { usage: { input_tokens: 900, output_tokens: 61, cache_read_input_tokens: 1024 }, content: [
        { type: 'tool_use', id: 'call_read', name: 'read_file', input: { path: 'src/index.ts' } },
        { type: 'tool_use', id: 'call_write', name: 'write_file', input: { path: 'src/index.ts', content: 'hijacked' } },
        { type: 'tool_use', id: 'call_diff', name: 'git_diff', input: {} },
      ] },
      { usage: { input_tokens: 1100, output_tokens: 25, cache_read_input_tokens: 1024 }, content: [
        { type: 'tool_use', id: 'call_done', name: 'complete_task', input: { summary: 'index.ts exports nothing yet; fine for now.' } },
      ] },
    ] },
  ],
};

describe('roles defined in the policy, on two providers (end to end)', function () {
  this.timeout(60000);
  let anthropic: FakeServer | undefined;
  let openai: FakeOpenAI | undefined;
  let ws: string;

  beforeEach(() => {
    ws = makeWorkspace({
      'choragen.governance.yaml': POLICY,
      'docs/roles/reviewer.md': REVIEWER_PROMPT,
      'src/index.ts': 'export {};\n',
    });
  });
  afterEach(async () => {
    await anthropic?.close();
    await openai?.close();
    anthropic = openai = undefined;
    removeWorkspace(ws);
  });

  const env = () => ({
    ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: anthropic?.url,
    OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: openai?.url,
  });

  it('control on Anthropic spawns a reviewer on the OpenAI-compatible endpoint and an impl in one message', async () => {
    anthropic = await startFakeAnthropic(ANTHROPIC_SCRIPT as any);
    openai = await startFakeOpenAI(OPENAI_SCRIPT as any, { chunkSize: 7 });
    const r = await runCli(['agent:start', '--role', 'control', '-m', 'Add alpha and get it reviewed', '--json', '-w', ws], { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(path.join(ws, 'src/alpha.ts'), 'utf8')).to.equal('export const alpha = 1;\n');
    expect(readFileSync(path.join(ws, 'src/index.ts'), 'utf8')).to.equal('export {};\n');

    // Control is offered spawn_session with exactly the roles it may start.
    const control = anthropic.requests.filter((q) => q.role === 'control');
    const spawnSession = control[0]!.body.tools.find((t: any) => t.name === 'spawn_session');
    expect(spawnSession.input_schema.properties.role.enum).to.deep.equal(['impl', 'reviewer']);
    expect(spawnSession.input_schema.properties.role.description).to.contain('reviewer (Reads the change and reports)');

    // The reviewer's requests: the OpenAI-compatible endpoint, its model, its prompt file, exactly its tools.
    const reviewer = openai.requests.filter((q) => q.role === 'reviewer');
    expect(reviewer).to.have.length(2);
    for (const q of reviewer) {
      expect(q.body.model).to.equal('gpt-5-mini');
      expect(toolNamesOf(q)).to.deep.equal(REVIEWER_TOOLS);
      const system = systemTextOf(q.body.messages);
      expect(system.startsWith(REVIEWER_PROMPT.trim())).to.equal(true);
      expect(system).to.match(/^choragen role: reviewer$/m);
      expect(q.headers.authorization).to.equal('[redacted]');
    }
    expect(JSON.stringify(reviewer[0]!.body.messages)).to.contain('REVIEW src/index.ts').and.not.contain('Add alpha and get it reviewed');
    // No other role reached the OpenAI endpoint, and the reviewer never reached Anthropic.
    expect(openai.requests.every((q) => q.role === 'reviewer')).to.equal(true);
    expect(anthropic.requests.map((q) => q.role)).to.not.include('reviewer');
    // impl runs on its own model; control on the run's default.
    for (const q of anthropic.requests.filter((x) => x.role === 'impl')) expect(q.body.model).to.equal('claude-haiku-4-5');
    for (const q of control) expect(q.body.model).to.equal('claude-sonnet-5');

    // Its forbidden call failed, was audited as a denial, and the model saw why; its allowed calls ran.
    const results = reviewer[1]!.body.messages.filter((m: any) => m.role === 'tool');
    const result = (id: string) => results.find((m: any) => m.tool_call_id === id).content as string;
    expect(result('call_write')).to.match(/^Error: tool "write_file" is not available to this session; available tools: read_file, list_files, git_diff, complete_task$/);
    expect(result('call_read')).to.contain('export {};');
    expect(result('call_read').startsWith('Error: ')).to.equal(false);
    const events = jsonEvents(r.stdout);
    const started = events.filter((e) => e.event === 'session_started');
    const reviewerSession = started.find((e) => e.role === 'reviewer');
    expect(reviewerSession).to.include({ depth: 1, model: 'gpt-5-mini', provider: 'openai' });
    expect(reviewerSession.tools).to.deep.equal(REVIEWER_TOOLS);
    const denied = events.filter((e) => e.event === 'tool_call' && e.session_id === reviewerSession.session_id && e.decision === 'deny');
    expect(denied.map((e) => [e.tool, e.rule])).to.deep.equal([['write_file', 'grants']]);

    // The spawn of a role control may not start was refused as a tool error, audited, and started nothing.
    const controlResults = control[1]!.body.messages.at(-1).content;
    const self = controlResults.find((b: any) => b.tool_use_id === 'toolu_self');
    expect(self.is_error).to.equal(true);
    expect(self.content).to.equal('spawn refused: control sessions may not start control sessions; they may start: impl, reviewer (roles.control.spawns)');
    const spawnDenial = events.find((e) => e.event === 'tool_call' && e.tool_use_id === 'toolu_self');
    expect(spawnDenial).to.include({ decision: 'deny', rule: 'roles.control.spawns', is_error: true });
    expect(started.map((e) => e.role).sort()).to.deep.equal(['control', 'impl', 'reviewer']);
    const review = controlResults.find((b: any) => b.tool_use_id === 'toolu_review');
    expect(review.is_error ?? false).to.equal(false);
    expect(review.content).to.match(/^reviewer session \S+ completed; files changed: none/).and.contain('index.ts exports nothing yet');

    // Tokens as each endpoint reported them, per session, and the provider of each.
    const q = await runCli(['metrics:query', '--format', 'json', '-w', ws,
      'SELECT role, model, provider, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM sessions ORDER BY role']);
    expect(q.code, q.stderr).to.equal(0);
    const rows = Object.fromEntries(JSON.parse(q.stdout).map((row: any) => [row.role, row]));
    const sent = openai.totalUsage();
    expect(sent).to.deep.equal({ prompt_tokens: 900 + 1024 + 1100 + 1024, completion_tokens: 61 + 25, cached_tokens: 2048 });
    expect(rows.reviewer).to.deep.equal({
      role: 'reviewer', model: 'gpt-5-mini', provider: 'openai',
      input_tokens: sent.prompt_tokens - sent.cached_tokens, output_tokens: sent.completion_tokens, cache_read_tokens: sent.cached_tokens, cache_write_tokens: 0,
    });
    const byRole = (role: string) => anthropic!.responses.filter((x) => x.role === role).map((x) => x.usage);
    for (const role of ['control', 'impl']) {
      const u = byRole(role).reduce((a, b) => ({
        input_tokens: a.input_tokens + b.input_tokens, output_tokens: a.output_tokens + b.output_tokens,
        cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens, cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
      }));
      expect(rows[role]).to.deep.include({
        provider: 'anthropic', input_tokens: u.input_tokens, output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens, cache_write_tokens: u.cache_creation_input_tokens,
      });
    }
    expect(rows.control.model).to.equal('claude-sonnet-5');
    expect(rows.impl.model).to.equal('claude-haiku-4-5');

    // agent:show, agent:list and metrics:summary name each session's model and provider.
    const show = await runCli(['agent:show', reviewerSession.session_id, '-w', ws]);
    expect(show.stdout).to.match(/model: gpt-5-mini \(openai\)/);
    const controlSession = started.find((e) => e.role === 'control');
    const children = await runCli(['agent:show', controlSession.session_id, '-w', ws]);
    expect(children.stdout).to.match(/\n\S+\s+reviewer\s+gpt-5-mini \(openai\)\s+completed/).and.match(/\n\S+\s+impl\s+claude-haiku-4-5 \(anthropic\)\s+completed/);
    const list = await runCli(['agent:list', '-w', ws]);
    expect(list.stdout).to.match(new RegExp(`${reviewerSession.session_id}\\s+reviewer\\s+gpt-5-mini \\(openai\\)\\s`));
    expect(list.stdout).to.match(new RegExp(`${controlSession.session_id}\\s+control\\s+claude-sonnet-5 \\(anthropic\\)\\s`));
    const listed = JSON.parse((await runCli(['agent:list', '--json', '-w', ws])).stdout);
    expect(listed.map((row: any) => [row.role, row.model, row.provider]).sort()).to.deep.equal([
      ['control', 'claude-sonnet-5', 'anthropic'], ['impl', 'claude-haiku-4-5', 'anthropic'], ['reviewer', 'gpt-5-mini', 'openai'],
    ]);
    const summary = JSON.parse((await runCli(['metrics:summary', '--json', '-w', ws])).stdout);
    expect(summary.models.find((m: any) => m.role === 'reviewer')).to.include({ model: 'gpt-5-mini', provider: 'openai', sessions: 1, cache_read_tokens: 2048 });
  });

  it('the reviewer runs on its own (agent:start --role reviewer), needing only the OpenAI key', async () => {
    openai = await startFakeOpenAI(OPENAI_SCRIPT as any);
    const r = await runCli(['agent:start', '--role', 'reviewer', '-m', 'REVIEW src/index.ts alone', '--json', '-w', ws],
      { env: { OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: openai.url } });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('index.ts exports nothing yet');
    expect(openai.requests).to.have.length(2);
    expect(toolNamesOf(openai.requests[0]!)).to.deep.equal(REVIEWER_TOOLS);
    const started = jsonEvents(r.stdout).filter((e) => e.event === 'session_started');
    expect(started).to.have.length(1);
    expect(started[0]).to.include({ role: 'reviewer', depth: 0, model: 'gpt-5-mini', provider: 'openai' });
    expect(readFileSync(path.join(ws, 'src/index.ts'), 'utf8')).to.equal('export {};\n');
  });

  it('on the OpenAI-compatible endpoint, retries and Ctrl-C behave as on Anthropic', async () => {
    openai = await startFakeOpenAI({ sessions: [
      { role: 'reviewer', match: 'FLAKY', turns: [
        { failures: [429, 503, 'reset'], retry_after_ms: 20, content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'after three failures' } }] },
      ] },
      { role: 'reviewer', match: 'SLOW', turns: [{ delay_ms: 60_000, content: [{ type: 'text', text: 'too late' }] }] },
    ] } as any);
    const openaiEnv = { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: openai.url };
    const flaky = await runCli(['agent:start', '--role', 'reviewer', '-m', 'FLAKY', '--json', '-w', ws], { env: openaiEnv });
    expect(flaky.code, flaky.stderr).to.equal(0);
    const call = jsonEvents(flaky.stdout).find((e) => e.event === 'model_call');
    expect(call).to.include({ retries: 3, model: 'gpt-5-mini' });
    expect(openai.requests.map((q) => q.status)).to.deep.equal([429, 503, 0, 200]);

    const server = openai;
    const slow = await runCli(['agent:start', '--role', 'reviewer', '-m', 'SLOW', '--json', '-w', ws], {
      env: openaiEnv,
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (server.requests.some((q) => JSON.stringify(q.body?.messages ?? '').includes('SLOW'))) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 20);
      },
    });
    expect(slow.code, slow.stderr).to.equal(130);
    expect(jsonEvents(slow.stdout).find((e) => e.event === 'session_ended').status).to.equal('interrupted');
  });

  it('--max-depth and --max-parallel hold for a role defined in the file: its spawn_session is refused, not queued, over either', async () => {
    // A reviewer that may start reviewers, run on its own on the OpenAI-compatible endpoint: three children in one
    // message under --max-parallel 2 (one refused), each child at --max-depth 1 refused a grandchild.
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), POLICY.replace('    provider: openai\n', '    provider: openai\n    spawns: [reviewer]\n'));
    const child = (n: number) => ({ role: 'reviewer', match: `CHILD-${n}`, turns: [
      { delay_ms: 300, content: [
        { type: 'tool_use', id: `call_deep_${n}`, name: 'spawn_session', input: { role: 'reviewer', instructions: `GRANDCHILD of ${n}` } },
        { type: 'tool_use', id: `call_read_${n}`, name: 'read_file', input: { path: 'src/index.ts' } },
      ] },
      { content: [{ type: 'tool_use', name: 'complete_task', input: { summary: `child ${n} done` } }] },
    ] });
    openai = await startFakeOpenAI({ sessions: [
      { role: 'reviewer', match: 'FAN OUT', turns: [
        { content: [1, 2, 3].map((n) => ({ type: 'tool_use', id: `call_child_${n}`, name: 'spawn_session', input: { role: 'reviewer', instructions: `CHILD-${n}` } })) },
        { content: [{ type: 'text', text: 'fanned out' }] },
      ] },
      child(1), child(2), child(3),
    ] } as any);
    const r = await runCli(['agent:start', '--role', 'reviewer', '-m', 'FAN OUT', '--max-depth', '1', '--max-parallel', '2', '--json', '-w', ws],
      { env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: openai.url } });
    expect(r.code, r.stderr).to.equal(0);
    const toolResults = (q: any) => new Map<string, string>(q.body.messages.filter((m: any) => m.role === 'tool').map((m: any) => [m.tool_call_id, m.content]));
    const root = openai.requests.filter((q) => JSON.stringify(q.body.messages).includes('FAN OUT'));
    const spawned = toolResults(root.at(-1));
    const refused = [1, 2, 3].filter((n) => spawned.get(`call_child_${n}`)!.startsWith('Error: '));
    expect(refused, JSON.stringify([...spawned])).to.have.length(1);
    expect(spawned.get(`call_child_${refused[0]}`)).to.match(/spawn refused: 2 child sessions are already running in this tree, the limit is 2/);
    for (const n of [1, 2, 3].filter((k) => k !== refused[0])) {
      expect(spawned.get(`call_child_${n}`)).to.match(new RegExp(`^reviewer session \\S+ completed;[^]*child ${n} done`));
      // The child was offered spawn_session (its role's), and the depth limit refused it.
      const last = openai.requests.filter((q) => JSON.stringify(q.body.messages[1] ?? '').includes(`CHILD-${n}`)).at(-1);
      expect(toolNamesOf(last!)).to.include('spawn_session');
      expect(toolResults(last).get(`call_deep_${n}`)).to.match(/spawn refused: a child of this session would be at depth 2, over the limit of 1/);
    }
    const events = jsonEvents(r.stdout);
    expect(events.filter((e) => e.event === 'session_started').map((e) => e.depth).sort()).to.deep.equal([0, 1, 1]);
    // No session was ever started on the grandchild's instructions.
    expect(JSON.stringify(openai.requests.map((q) => q.body.messages[1]))).to.not.include('GRANDCHILD of');
    const denials = events.filter((e) => e.event === 'tool_call' && e.tool === 'spawn_session' && e.is_error);
    expect(denials.map((e) => `${e.decision} ${e.rule}`).sort()).to.deep.equal(['deny limits.max_depth', 'deny limits.max_depth', 'deny limits.max_parallel']);
  });

  it('the manifest shows the reviewer: exactly the tools and schemas it is offered, its model, provider, prompt and spawns', async () => {
    openai = await startFakeOpenAI(OPENAI_SCRIPT as any);
    const run = await runCli(['agent:start', '--role', 'reviewer', '-m', 'REVIEW', '-w', ws], { env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: openai.url } });
    expect(run.code, run.stderr).to.equal(0);
    const m = await runCli(['capabilities:manifest', '--role', 'reviewer', '--json', '-w', ws]);
    expect(m.code, m.stderr).to.equal(0);
    const manifest = JSON.parse(m.stdout);
    expect(manifest).to.include({ role: 'reviewer', description: 'Reads the change and reports', model: 'gpt-5-mini', provider: 'openai' });
    expect(manifest.spawns).to.deep.equal([]);
    expect(manifest.prompt).to.deep.equal({ source: 'docs/roles/reviewer.md', sha256: createHash('sha256').update(REVIEWER_PROMPT.trim()).digest('hex') });
    const offered = openai.requests[0]!.body.tools.map((t: any) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters }));
    expect(manifest.tools.map((t: any) => ({ name: t.name, description: t.description, input_schema: t.input_schema }))).to.deep.equal(offered);
    expect(manifest.tools.find((t: any) => t.name === 'read_file').rules.reads.deny.map((r: any) => r.pattern)).to.deep.equal(['**/.env*']);

    const control = JSON.parse((await runCli(['capabilities:manifest', '--role', 'control', '--json', '-w', ws])).stdout);
    expect(control.spawns).to.deep.equal(['impl', 'reviewer']);
    expect(control.tools.find((t: any) => t.name === 'spawn_session').rules.child_tools.reviewer).to.deep.equal(REVIEWER_TOOLS);
    const all = JSON.parse((await runCli(['capabilities:manifest', '--json', '-w', ws])).stdout);
    expect(Object.keys(all.roles)).to.deep.equal(['control', 'impl', 'reviewer']);
    const text = await runCli(['capabilities:manifest', '-w', ws]);
    expect(text.stdout).to.match(/\nrole reviewer\n/).and.match(/description: Reads the change and reports\n\s+spawns: \(none\)\n\s+model: gpt-5-mini\n\s+provider: openai\n\s+prompt: source docs\/roles\/reviewer\.md/);

    // The hash changes with the prompt, the model, and the roles a role may start.
    writeFileSync(path.join(ws, 'docs/roles/reviewer.md'), REVIEWER_PROMPT + 'Be brief.\n');
    const prompted = JSON.parse((await runCli(['capabilities:manifest', '--role', 'reviewer', '--json', '-w', ws])).stdout);
    expect(prompted.hash).to.not.equal(manifest.hash);
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), POLICY.replace('model: gpt-5-mini', 'model: gpt-4.1-mini'));
    const remodelled = JSON.parse((await runCli(['capabilities:manifest', '--role', 'reviewer', '--json', '-w', ws])).stdout);
    expect(remodelled.model).to.equal('gpt-4.1-mini');
    expect(remodelled.hash).to.not.equal(prompted.hash);
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), POLICY.replace('spawns: [impl, reviewer]', 'spawns: [impl]'));
    const narrowed = JSON.parse((await runCli(['capabilities:manifest', '--role', 'control', '--json', '-w', ws])).stdout);
    expect(narrowed.tools.map((t: any) => t.name)).to.not.include('spawn_session');
    expect(narrowed.hash).to.not.equal(control.hash);
  });

  it('fails at start, before any model call, on a missing key of a reachable role, a missing prompt file, or an unknown role', async () => {
    anthropic = await startFakeAnthropic(ANTHROPIC_SCRIPT as any);
    const noOpenAIKey = await runCli(['agent:start', '--role', 'control', '-m', 'x', '-w', ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: anthropic.url } });
    expect(noOpenAIKey.code).to.equal(2);
    expect(noOpenAIKey.stderr).to.match(/^choragen: OPENAI_API_KEY is not set \(role reviewer runs on openai\)/);
    expect(noOpenAIKey.stderr.trim().split('\n')).to.have.length(1);
    // impl alone cannot reach the reviewer: no OpenAI key needed.
    const implOnly = await runCli(['agent:start', '--role', 'impl', '-m', 'IMPLEMENT alone', '--dry-run', '--json', '-w', ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: anthropic.url } });
    expect(implOnly.code, implOnly.stderr).to.equal(0);
    expect(JSON.parse(implOnly.stdout)).to.include({ role: 'impl', model: 'claude-haiku-4-5', provider: 'anthropic' });

    const unknown = await runCli(['agent:start', '--role', 'auditor', '-m', 'x', '-w', ws], { env: env() });
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.equal('choragen: unknown role "auditor" (defined: control, impl, reviewer)\n');

    rmSync(path.join(ws, 'docs/roles/reviewer.md'));
    const noPrompt = await runCli(['agent:start', '--role', 'control', '-m', 'x', '-w', ws], { env: { ...env(), OPENAI_API_KEY: 'k' } });
    expect(noPrompt.code).to.equal(2);
    expect(noPrompt.stderr).to.match(/^choragen: \S*choragen\.governance\.yaml:18: roles\.reviewer\.prompt: prompt file docs\/roles\/reviewer\.md does not exist\n$/);
    const lint = await runCli(['policy:lint', '-w', ws]);
    expect(lint.code).to.equal(2);
    expect(lint.stderr).to.contain('roles.reviewer.prompt: prompt file docs/roles/reviewer.md does not exist');
    expect(anthropic.requests).to.have.length(0);
  });

  it('impl on a local model (Ollama-style: --provider openai --model): a notice says its cost is estimated, and --max-cost says so when it stops', async () => {
    openai = await startFakeOpenAI({ sessions: [{ role: 'impl', turns: [
      { usage: { input_tokens: 2000, output_tokens: 100 }, content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/local.ts', content: 'export const local = 1;\n' } }] },
      { content: [{ type: 'text', text: 'never reached' }] },
    ] }] } as any);
    // impl without a model of its own runs on the run's --provider and --model.
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), POLICY.replace('    model: claude-haiku-4-5\n', ''));
    const r = await runCli(['agent:start', '--role', 'impl', '--provider', 'openai', '--model', 'qwen3-coder', '--max-cost', '0.01', '-m', 'write it', '--json', '-w', ws],
      { env: { OPENAI_API_KEY: 'ollama', OPENAI_BASE_URL: openai.url } });
    expect(r.code, r.stderr).to.equal(3);
    expect(openai.requests[0]!.body.model).to.equal('qwen3-coder');
    const events = jsonEvents(r.stdout);
    const notice = events.find((e) => e.event === 'notice' && e.kind === 'unknown_price');
    expect(notice.message).to.equal('no price is known for model "qwen3-coder" (role impl): its cost is estimated at the table\'s highest rate, $15 in / $75 out per million tokens; --max-cost counts that estimate');
    expect(events.find((e) => e.event === 'session_ended').error).to.match(/budget exceeded \(\$0\.\d+\/\$0\.01 cost \(estimated: no known price for qwen3-coder\)\)/);
    expect(events.find((e) => e.event === 'session_started')).to.include({ provider: 'openai', model: 'qwen3-coder' });
  });

  it('a prompt file the policy will not let sessions read never reaches a provider', async () => {
    writeFileSync(path.join(ws, '.env.prompt'), 'SECRET=1\n');
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), POLICY.replace('prompt: docs/roles/reviewer.md', 'prompt: .env.prompt'));
    const r = await runCli(['agent:start', '--role', 'reviewer', '-m', 'x', '-w', ws], { env: { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/roles\.reviewer\.prompt: prompt file \.env\.prompt may not be read \(reads\.deny\[0\]/);
    const lint = await runCli(['policy:lint', '-w', ws]);
    expect(lint.code).to.equal(2);
    expect(lint.stderr).to.contain('may not be read');
  });
});
