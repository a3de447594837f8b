// Before a run (issue 19 item 8): --dry-run needs no API key and prints text
// unless --json; an unknown --model is said once to be priced at the highest
// known rate.
import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

describe('before a run', () => {
  let ws: string;
  beforeEach(() => { ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY }); });
  afterEach(() => removeWorkspace(ws));

  it('--dry-run needs no API key, calls nothing, creates nothing, and prints a readable plan', async () => {
    const r = await runCli(['agent:start', '--role', 'control', '-m', 'plan it', '--dry-run', '--max-cost', '2', '-w', ws]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^dry run: nothing was started, no model was called\n/);
    expect(r.stdout).to.match(/role\s+control, model claude-sonnet-5 via anthropic \(ANTHROPIC_API_KEY is not set: a real run needs it, or --provider script\)/);
    expect(r.stdout).to.match(/tools\s+read_file, .*spawn_impl_session/).and.to.match(/may start impl\s+model claude-sonnet-5 via anthropic .*tools read_file, .*write_file/);
    expect(r.stdout).to.include('max_cost $2').and.to.include('warning: ').and.to.include('is not in a git repository');
    expect(r.stdout).to.not.include('{');
    expect(existsSync(path.join(ws, '.choragen'))).to.equal(false);
    const json = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--dry-run', '--json', '-w', ws]);
    expect(json.code, json.stderr).to.equal(0);
    const plan = JSON.parse(json.stdout);
    expect(plan).to.include({ role: 'impl', provider: 'anthropic', model: 'claude-sonnet-5' });
    expect(plan.tools).to.include('write_file');
    expect(plan.limits).to.include({ max_depth: 2, max_parallel: 4 });
  });

  it('an unknown --model warns once that its cost is estimated at the highest known rate', async () => {
    const script = path.join(ws, 'run.json');
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'ok' }] }] }] }));
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--model', 'my-local-model', '--provider', 'script', '--script', script, '-w', ws]);
    expect(r.code, r.stderr).to.equal(0);
    const warning = /no price is known for model "my-local-model" \(role impl\): its cost is estimated at the table's highest rate, \$15 in \/ \$75 out per million tokens/g;
    expect(r.stderr.match(warning)).to.have.length(1);
    const known = await runCli(['agent:start', '--role', 'impl', '-m', 'x', '--model', 'claude-haiku-4-5', '--provider', 'script', '--script', script, '-w', ws]);
    expect(known.stderr).to.not.include('no price is known');
  });
});
