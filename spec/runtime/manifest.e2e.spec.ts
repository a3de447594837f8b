// The manifest a reviewer signs must be exactly what sessions are offered.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REGISTRY } from '../../capabilities/index.js';
import { TOOL_ACTIONS } from '../../runtime/manifest.js';
import { type FakeServer, startFakeAnthropic } from '../support/fake-anthropic.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../support/cli.js';

describe('capabilities:manifest', () => {
  let ws: string;
  let server: FakeServer | undefined;
  beforeEach(() => { ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY }); });
  afterEach(async () => { await server?.close(); server = undefined; removeWorkspace(ws); });

  it('names the policy actions of every registered tool', () => {
    for (const name of REGISTRY.keys()) expect(TOOL_ACTIONS, name).to.have.property(name);
  });

  it('lists exactly the tools, descriptions and schemas each role is offered by the model port', async () => {
    server = await startFakeAnthropic({ sessions: [
      { role: 'control', turns: [{ content: [{ type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'child' } }] }, { content: [{ type: 'text', text: 'ok' }] }] },
      { role: 'impl', turns: [{ content: [{ type: 'text', text: 'done' }] }] },
    ] } as any);
    const run = await runCli(['agent:start', '--role', 'control', '-m', 'go', '-w', ws], { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(run.code, run.stderr).to.equal(0);
    for (const role of ['control', 'impl'] as const) {
      const m = await runCli(['capabilities:manifest', '--role', role, '--json', '-w', ws]);
      expect(m.code, m.stderr).to.equal(0);
      const manifest = JSON.parse(m.stdout);
      expect(manifest).to.have.all.keys('role', 'description', 'tools', 'spawns', 'model', 'provider', 'prompt', 'limits', 'hash');
      expect(manifest).to.include({ model: 'claude-sonnet-5', provider: 'anthropic' });
      expect(manifest.prompt.source).to.equal('built-in');
      const offered = server.requests.find((q) => q.role === role)!.body.tools;
      expect(manifest.tools.map((t: any) => ({ name: t.name, description: t.description, input_schema: t.input_schema })))
        .to.deep.equal(offered.map((t: any) => ({ name: t.name, description: t.description, input_schema: t.input_schema })));
      for (const t of manifest.tools) expect(t).to.have.property('rules');
    }
    const all = JSON.parse((await runCli(['capabilities:manifest', '--json', '-w', ws])).stdout);
    expect(all).to.have.all.keys('roles', 'hash');
    expect(all.roles).to.have.all.keys('control', 'impl');
  });

  it('shows the rules that govern a tool and the limits; the hash changes when a grant or rule changes', async () => {
    const before = JSON.parse((await runCli(['capabilities:manifest', '--role', 'impl', '--json', '-w', ws])).stdout);
    const write = before.tools.find((t: any) => t.name === 'write_file');
    expect(write.rules.mutations.allow.map((r: any) => r.pattern)).to.include('src/**');
    expect(write.rules.mutations.deny.map((r: any) => r.pattern)).to.include('**/.env*');
    expect(before.limits).to.include({ max_depth: 2, max_parallel: 4 });
    expect(before.hash).to.match(/^[0-9a-f]{64}$/);

    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY.replace('  impl:\n', '  impl:\n    tools: [read_file, write_file, complete_task]\n'));
    const narrowed = JSON.parse((await runCli(['capabilities:manifest', '--role', 'impl', '--json', '-w', ws])).stdout);
    expect(narrowed.tools.map((t: any) => t.name)).to.deep.equal(['read_file', 'write_file', 'complete_task']);
    expect(narrowed.hash).to.not.equal(before.hash);

    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY.replace('pattern: "test/**"', 'pattern: "tests/**"'));
    const ruleChanged = JSON.parse((await runCli(['capabilities:manifest', '--role', 'impl', '--json', '-w', ws])).stdout);
    expect(ruleChanged.hash).to.not.equal(before.hash);
  });

  it('shows run_command\'s command rules and the sandbox\'s promises; the machine\'s sandbox status is shown, not hashed', async () => {
    const withCommands = TEST_POLICY.replace('  impl:\n', '  impl:\n    commands:\n      allow: [{ argv: ["node", "--test"], reason: "tests" }]\n');
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), withCommands);
    const m = await runCli(['capabilities:manifest', '--role', 'impl', '--json', '-w', ws]);
    expect(m.code, m.stderr).to.equal(0);
    const manifest = JSON.parse(m.stdout);
    expect(manifest).to.have.all.keys('role', 'description', 'tools', 'spawns', 'model', 'provider', 'prompt', 'limits', 'hash');
    const run = manifest.tools.find((t: any) => t.name === 'run_command');
    expect(run.rules.commands).to.deep.equal({
      deny: [], approve: [], allow: [{ rule: 'roles.impl.commands.allow[0]', argv: ['node', '--test'], reason: 'tests' }], allow_from: 'roles.impl.commands', default: 'deny',
    });
    expect(run.rules.mutations.allow.map((r: any) => r.pattern)).to.deep.equal(['src/**', 'test/**']);
    expect(run.rules.sandbox.writable).to.deep.equal(['src', 'test']);
    expect(run.rules.sandbox.hidden).to.include('**/.env* (reads.deny)').and.include('/root').and.include('.choragen/');
    expect(run.rules.sandbox.read_only).to.include('every .git directory').and.include('choragen.governance.yaml (the policy in force)');
    expect(run.rules.sandbox.network).to.match(/^none/);
    expect(run.rules.sandbox.environment).to.match(/^PATH, HOME and TMPDIR/);
    expect(run.rules.sandbox.status).to.match(/^(available: bubblewrap \d|unavailable: )/);
    expect(manifest.limits.command_timeout_s).to.equal(120);
    // The same grant hashes the same whatever the machine says about its sandbox.
    const { roleManifest } = await import('../../runtime/manifest.js');
    const { parsePolicy } = await import('../../policy/load.js');
    const { DEFAULT_TOOL_LIMITS } = await import('../../capabilities/capability.js');
    const { loadRolePrompts } = await import('../../runtime/broker/role-prompts.js');
    const { runDefaults } = await import('../../runtime/run/setup.js');
    const policy = parsePolicy(withCommands, path.join(ws, 'choragen.governance.yaml'));
    const settings = { toolLimits: DEFAULT_TOOL_LIMITS, defaults: runDefaults({}), prompts: await loadRolePrompts(ws, policy, ['impl']), workspace: ws };
    const here = roleManifest(policy, 'impl', { ...settings, sandboxStatus: 'available: bubblewrap 0.8.0' });
    const there = roleManifest(policy, 'impl', { ...settings, sandboxStatus: 'unavailable: run_command needs bubblewrap' });
    expect(here.hash).to.equal(there.hash).and.to.equal(manifest.hash);
    // control is not offered it; the readable manifest shows the rules and the promises.
    const control = JSON.parse((await runCli(['capabilities:manifest', '--role', 'control', '--json', '-w', ws])).stdout);
    expect(control.tools.map((t: any) => t.name)).to.not.include('run_command');
    const text = await runCli(['capabilities:manifest', '-w', ws]);
    expect(text.stdout).to.match(/commands rules \(asked by run_command\):\n(?:.*\n)*?\s+allow\s+\["node","--test"\]\s+reason "tests"\s+\(roles\.impl\.commands\.allow\[0\]\)/);
    expect(text.stdout).to.match(/\n\s+status: (available|unavailable)/);
  });

  it('refuses an unknown role (exit 2)', async () => {
    const r = await runCli(['capabilities:manifest', '--role', 'root', '-w', ws]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/unknown role "root"/);
  });
});
