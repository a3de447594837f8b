// Issue 5's check: a control session with --chain delegates one task by
// task_id; the impl's first message carries the task file; the write lands;
// the task moves to in-review; chain:status lists it.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { firstUserText } from '../../../runtime/providers/script/replay.js';
import { type FakeServer, startFakeAnthropic } from '../../support/fake-anthropic.js';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

describe('task chains end to end', () => {
  let ws: string;
  let server: FakeServer | undefined;
  beforeEach(() => { ws = makeWorkspace({ 'src/index.ts': 'export {};\n' }); });
  afterEach(async () => { await server?.close(); server = undefined; removeWorkspace(ws); });

  it('delegates a task by task_id under the default policy from `choragen init`', async () => {
    expect((await runCli(['init', '-w', ws])).code).to.equal(0);
    const chainId = (await runCli(['chain:new', 'Add a feature', '-w', ws])).stdout.trim();
    const taskId = (await runCli(['task:add', chainId, 'Write the feature module', '-w', ws])).stdout.trim();
    expect(taskId).to.match(new RegExp(`^${chainId}/001-`));

    server = await startFakeAnthropic({ sessions: [
      { role: 'control', turns: [
        { content: [{ type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'Create src/feature.ts as the task says.', task_id: taskId } }] },
        { content: [{ type: 'tool_use', name: 'task_approve', input: { task_id: taskId } }] },
        { content: [{ type: 'text', text: 'Task approved.' }] },
      ] },
      { role: 'impl', turns: [
        { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/feature.ts', content: 'export const feature = true;\n' } }] },
        { content: [{ type: 'tool_use', name: 'complete_task', input: { summary: 'Created src/feature.ts.' } }] },
      ] },
    ] } as any);
    const r = await runCli(['agent:start', '--role', 'control', '--chain', chainId, '--json', '-w', ws],
      { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
    expect(r.code, r.stderr).to.equal(0);

    // control's first message carries the chain status; impl's carries the task file text, before the instructions
    const controlFirst = JSON.stringify(server.requests.find((q) => q.role === 'control')!.body.messages[0].content);
    expect(controlFirst).to.include(chainId);
    const implFirst = firstUserText(server.requests.find((q) => q.role === 'impl')!.body.messages);
    expect(implFirst).to.include('# Task: Write the feature module');
    expect(implFirst.indexOf('Write the feature module')).to.be.lessThan(implFirst.indexOf('Create src/feature.ts as the task says.'));

    expect(readFileSync(path.join(ws, 'src/feature.ts'), 'utf8')).to.equal('export const feature = true;\n');
    const approve = server.requests.filter((q) => q.role === 'control')[2].body.messages.at(-1).content[0];
    expect(approve.is_error ?? false, approve.content).to.equal(false);

    const status = await runCli(['chain:status', chainId, '--json', '-w', ws]);
    expect(status.code, status.stderr).to.equal(0);
    const rows = JSON.parse(status.stdout);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ status: 'done' });
    // tokens: what the impl session on this task spent, as the server reported it
    const implUsage = server.responses.filter((x) => x.role === 'impl').reduce((n, x) => n + x.usage.input_tokens + x.usage.output_tokens, 0);
    expect(rows[0].tokens).to.equal(implUsage);
    expect(rows[0].last_session).to.be.a('string');
    const done = path.join(ws, 'docs/tasks/done', chainId, `${taskId.split('/')[1]}.md`);
    expect(readFileSync(done, 'utf8')).to.include('Created src/feature.ts.');
  });

  it('an unknown --chain or --task is a usage error (exit 2) that records nothing', async () => {
    expect((await runCli(['init', '-w', ws])).code).to.equal(0);
    const env = { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };
    const chain = await runCli(['agent:start', '--role', 'control', '--chain', 'CHAIN-999-nope', '-w', ws], { env });
    expect(chain.code).to.equal(2);
    expect(chain.stderr).to.match(/unknown chain "CHAIN-999-nope"/);
    const task = await runCli(['agent:start', '--role', 'impl', '--task', 'CHAIN-999-nope/001-x', '-w', ws], { env });
    expect(task.code).to.equal(2);
    expect(readdirSync(path.join(ws, '.choragen', 'audit'))).to.deep.equal([]);
  });
});
