import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

describe('chain:new, task:add, chain:status (CLI)', () => {
  let ws = '';
  afterEach(() => {
    if (ws) removeWorkspace(ws);
    ws = '';
  });

  it('creates a chain, adds tasks and shows their status', async () => {
    ws = makeWorkspace({ 'body.md': '## Objective\n\nBuild it.\n\n## Acceptance Criteria\n\n- [ ] works\n' });
    const chain = await runCli(['chain:new', 'Add', 'login', '--workspace', ws]);
    expect(chain.stderr).to.equal('');
    expect(chain.code).to.equal(0);
    expect(chain.stdout).to.equal('CHAIN-001-add-login\n');
    expect(JSON.parse(fs.readFileSync(path.join(ws, 'docs/tasks/.chains/CHAIN-001-add-login.json'), 'utf8')).title).to.equal('Add login');

    const first = await runCli(['task:add', 'CHAIN-001-add-login', 'Create the form', '--workspace', ws]);
    expect(first.code).to.equal(0);
    expect(first.stdout).to.equal('CHAIN-001-add-login/001-create-the-form\n');
    const second = await runCli(['task:add', 'CHAIN-001-add-login', 'Session store', '--body', 'body.md', '--status', 'todo'], { cwd: ws });
    expect(second.stdout).to.equal('CHAIN-001-add-login/002-session-store\n');
    const text = fs.readFileSync(path.join(ws, 'docs/tasks/todo/CHAIN-001-add-login/002-session-store.md'), 'utf8');
    expect(text).to.contain('**Status**: todo').and.contain('## Objective\n\nBuild it.');

    const table = await runCli(['chain:status', '--workspace', ws]);
    expect(table.code).to.equal(0);
    expect(table.stdout.split('\n')).to.deep.equal([
      'CHAIN-001-add-login: Add login (2 tasks: 1 backlog, 1 todo)',
      '  TASK                 STATUS   LAST SESSION  TOKENS',
      '  001-create-the-form  backlog  -             -',
      '  002-session-store    todo     -             -',
      '',
    ]);
    const json = await runCli(['chain:status', 'CHAIN-001-add-login', '--json'], { cwd: ws });
    expect(JSON.parse(json.stdout)).to.deep.equal([
      { chain: 'CHAIN-001-add-login', task: 'CHAIN-001-add-login/001-create-the-form', title: 'Create the form', status: 'backlog', last_session: null, tokens: null },
      { chain: 'CHAIN-001-add-login', task: 'CHAIN-001-add-login/002-session-store', title: 'Session store', status: 'todo', last_session: null, tokens: null },
    ]);
  });

  it('answers user errors with one line and exit code 2', async () => {
    ws = makeWorkspace();
    const cases: Array<[string[], string]> = [
      [['task:add', 'CHAIN-001-nope', 'x', '-w', ws], 'choragen: unknown chain "CHAIN-001-nope" (chains: none)\n'],
      [['task:add', 'CHAIN-001-nope', 'x', '--status', 'done', '-w', ws], 'choragen: --status must be backlog or todo, not "done"\n'],
      [['chain:status', 'CHAIN-004-x', '-w', ws], 'choragen: unknown chain "CHAIN-004-x" (chains: none)\n'],
      [['chain:new', 'x', '-w', path.join(ws, 'missing')], `choragen: workspace not found: ${path.join(ws, 'missing')}\n`],
    ];
    for (const [args, stderr] of cases) {
      const run = await runCli(args);
      expect(run.stderr, args.join(' ')).to.equal(stderr);
      expect(run.code, args.join(' ')).to.equal(2);
    }
    const empty = await runCli(['chain:status', '-w', ws]);
    expect(empty.code).to.equal(0);
    expect(empty.stdout).to.contain('No chains yet');
  });
});
