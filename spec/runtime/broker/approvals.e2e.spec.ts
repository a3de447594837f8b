// Approvals end to end (issue 4 part 6): an `approve` rule with
// --auto-approve, without a terminal, and --require-approval. The CLI's stdin
// is a pipe here, so it has no terminal. Real CLI, fake Anthropic server.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { jsonEvents, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*" }
  approve:
    - { pattern: "package.json", actions: [modify], reason: "review dependency changes" }
roles:
  impl:
    allow: [{ pattern: "**" }]
`;

const PACKAGE = '{ "name": "demo", "version": "1.0.0" }\n';
const BUMPED = '{ "name": "demo", "version": "2.0.0" }\n';

const use = (id: string, name: string, input: unknown) => ({ type: 'tool_use', id, name, input });

const SCRIPT = {
  sessions: [{ role: 'impl', turns: [
    { content: [
      use('toolu_pkg', 'write_file', { path: 'package.json', content: BUMPED }),
      use('toolu_src', 'write_file', { path: 'src/a.ts', content: 'export const a = 1;\n' }),
      use('toolu_read', 'read_file', { path: 'package.json' }),
    ] },
    { content: [{ type: 'text', text: 'done' }] },
  ] }],
};

describe('approvals end to end (issue 4 part 6)', function () {
  let server: FakeServer;
  let ws: string;

  beforeEach(async () => {
    ws = makeWorkspace({ 'choragen.governance.yaml': POLICY, 'package.json': PACKAGE });
    server = await startFakeAnthropic(SCRIPT as any);
  });
  afterEach(async () => {
    await server.close();
    removeWorkspace(ws);
  });

  async function run(flags: string[]) {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'bump the version', '--json', '--no-record-commits', '-w', ws, ...flags],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code, r.stderr).to.equal(0); // a rejection is a tool error, never the end of the run
    const events = jsonEvents(r.stdout);
    const call = (id: string) => events.find((e) => e.event === 'tool_call' && e.tool_use_id === id);
    const result = (id: string) => server.requests[1].body.messages.at(-1).content.find((b: any) => b.tool_use_id === id);
    return { events, call, result, approvals: events.filter((e) => e.event === 'approval') };
  }

  it('--auto-approve: the approve rule is answered yes, audited, and the write lands', async () => {
    const { call, result, approvals } = await run(['--auto-approve']);
    expect(call('toolu_pkg')).to.include({ decision: 'approved', rule: 'mutations.approve[0]', path: 'package.json', is_error: false });
    expect(result('toolu_pkg').is_error ?? false).to.equal(false);
    expect(readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal(BUMPED);
    // Only the approve rule asked; the plain allow did not.
    expect(approvals).to.have.length(1);
    expect(approvals[0]).to.include({ tool: 'write_file', path: 'package.json', rule: 'mutations.approve[0]', answer: 'yes', by: 'auto-approve' });
    expect(call('toolu_src')).to.include({ decision: 'allow', rule: 'roles.impl.allow[0]' });
  });

  it('without a terminal and without --auto-approve the answer is no: rejected, audited, file unchanged', async () => {
    const { call, result, approvals } = await run([]);
    expect(call('toolu_pkg')).to.include({ decision: 'rejected', rule: 'mutations.approve[0]', is_error: true });
    expect(result('toolu_pkg').is_error).to.equal(true);
    expect(result('toolu_pkg').content).to.match(/not approved: modify of package\.json needs a human's approval .*no-terminal/);
    expect(readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal(PACKAGE);
    expect(approvals).to.have.length(1);
    expect(approvals[0]).to.include({ path: 'package.json', answer: 'no', by: 'no-terminal' });
    // Writes the policy simply allows go through; reads never ask.
    expect(readFileSync(path.join(ws, 'src/a.ts'), 'utf8')).to.equal('export const a = 1;\n');
    expect(call('toolu_read')).to.include({ decision: 'allow', is_error: false });
  });

  it('--require-approval turns every allowed mutation into an approval; reads still pass', async () => {
    const { call, approvals } = await run(['--require-approval', '--auto-approve']);
    expect(call('toolu_src')).to.include({ decision: 'approved', rule: '--require-approval', is_error: false });
    expect(readFileSync(path.join(ws, 'src/a.ts'), 'utf8')).to.equal('export const a = 1;\n');
    expect(call('toolu_pkg')).to.include({ decision: 'approved', rule: 'mutations.approve[0]' });
    expect(approvals.map((a) => `${a.path} ${a.rule} ${a.answer} ${a.by}`).sort()).to.deep.equal([
      'package.json mutations.approve[0] yes auto-approve',
      'src/a.ts --require-approval yes auto-approve',
    ]);
    expect(call('toolu_read')).to.include({ decision: 'allow', is_error: false });
  });

  it('--require-approval without a terminal fails up front (exit 2), before any session or model call', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'bump the version', '--require-approval', '--no-record-commits', '-w', ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^choragen: --require-approval needs a terminal to ask on/);
    expect(server.requests).to.have.length(0);
    expect(existsSync(path.join(ws, '.choragen/audit'))).to.equal(false);
  });
});
