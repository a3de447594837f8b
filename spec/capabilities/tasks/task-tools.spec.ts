import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chainStatus } from '../../../capabilities/chain-status.js';
import { taskList } from '../../../capabilities/task-list.js';
import { taskStart } from '../../../capabilities/task-start.js';
import { taskApprove } from '../../../capabilities/task-approve.js';
import { taskRework } from '../../../capabilities/task-rework.js';
import { ToolFailure, ToolRefusal } from '../../../policy/errors.js';
import { submitForReview } from '../../../capabilities/tasks/session.js';
import { openTaskStore } from '../../../capabilities/tasks/store.js';
import { rejection, removeWorkspace, runTool, tempWorkspace, testToolContext, type TestToolContextOptions } from '../../support/tool-context.js';

describe('task capabilities', () => {
  let ws: string;
  let chain: string;
  beforeEach(async () => {
    ws = tempWorkspace();
    const store = openTaskStore(ws);
    chain = (await store.createChain('Add login')).id;
    await store.addTask(chain, 'Create the form', { status: 'todo' });
    await store.addTask(chain, 'Session store');
  });
  afterEach(() => removeWorkspace(ws));

  const read = (rel: string) => fs.readFileSync(path.join(ws, rel), 'utf8');
  const exists = (rel: string) => fs.existsSync(path.join(ws, rel));
  const FORM = 'CHAIN-001-add-login/001-create-the-form';
  const rel = (status: string, name = '001-create-the-form') => `docs/tasks/${status}/CHAIN-001-add-login/${name}.md`;
  const control = (opts: TestToolContextOptions = {}, session: { chainId?: string | null; id?: string } = {}) => {
    const ctx = testToolContext(ws, opts);
    return Object.assign(ctx, { session: { ...ctx.session, role: 'control' as const, id: session.id ?? 'ctl-1', chainId: session.chainId ?? null } });
  };

  it('grants the roles of DESIGN.md §3', () => {
    expect(chainStatus.defaultRoles).to.deep.equal(['control', 'impl']);
    expect(taskList.defaultRoles).to.deep.equal(['control', 'impl']);
    for (const c of [taskStart, taskApprove, taskRework]) expect(c.defaultRoles, c.name).to.deep.equal(['control']);
    expect([chainStatus.name, taskList.name, taskStart.name, taskApprove.name, taskRework.name]).to.deep.equal(['chain_status', 'task_list', 'task_start', 'task_approve', 'task_rework']);
  });

  it('chain_status shows chains and tasks, reading only through authorize', async () => {
    const ctx = control();
    const out = await runTool(chainStatus, ctx, {});
    expect(out.split('\n')).to.deep.equal([
      'CHAIN-001-add-login: Add login (2 tasks: 1 backlog, 1 todo)',
      '  001-create-the-form  todo     Create the form',
      '  002-session-store    backlog  Session store',
    ]);
    expect(ctx.authorizations.every((a) => a.action === 'read')).to.equal(true);
    expect(ctx.authorizations.map((a) => a.rel)).to.include(rel('todo')).and.include(`docs/tasks/.chains/${chain}.json`);
    expect(ctx.mutations).to.deep.equal([]);
    const err = await rejection(runTool(chainStatus, control(), { chain_id: 'CHAIN-002-nope' }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('unknown chain "CHAIN-002-nope" (chains: CHAIN-001-add-login)');
  });

  it('task_list lists ids and leaves out task files the role may not read', async () => {
    expect(await runTool(taskList, control(), { chain_id: chain })).to.equal(
      `${FORM}  todo     Create the form\nCHAIN-001-add-login/002-session-store    backlog  Session store`,
    );
    const hidden = control({ canRead: (r) => !r.endsWith('002-session-store.md') });
    expect(await runTool(taskList, hidden, {})).to.equal(`${FORM}  todo  Create the form`);
    expect(await runTool(taskList, control({ decide: (r, a) => (a === 'read' && r.startsWith('docs/tasks/todo') ? 'deny' : 'allow') }), {})).to.equal(
      'CHAIN-001-add-login/002-session-store  backlog  Session store',
    );
  });

  it('task_start moves a todo task to in-progress through authorize(move/create) and mutate', async () => {
    const ctx = control();
    const out = await runTool(taskStart, ctx, { task_id: FORM });
    expect(out).to.equal(`Task ${FORM} moved from todo to in-progress (${rel('in-progress')}). Next: spawn_impl_session with task_id "${FORM}".`);
    expect(exists(rel('todo'))).to.equal(false);
    expect(read(rel('in-progress'))).to.contain('**Status**: in-progress  \n');
    const writes = ctx.authorizations.filter((a) => a.action !== 'read').map((a) => `${a.action} ${a.rel}`);
    expect(writes).to.deep.equal([`move ${rel('todo')}`, `create ${rel('in-progress')}`]);
    expect([...ctx.mutations].sort()).to.deep.equal([rel('in-progress'), rel('todo')]);
    expect(ctx.observations).to.include(rel('todo'));
  });

  it('task_start works from backlog, and resolves a short id in the session\'s chain', async () => {
    const out = await runTool(taskStart, control({}, { chainId: chain }), { task_id: '002-session-store' });
    expect(out).to.contain('moved from backlog to in-progress');
    expect(exists(rel('in-progress', '002-session-store'))).to.equal(true);
  });

  it('refuses illegal moves with the current status and what is allowed, changing nothing', async () => {
    const before = read(rel('todo'));
    const err = await rejection(runTool(taskApprove, control(), { task_id: FORM }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal(`cannot move task ${FORM} from todo to done: from todo it can move to in-progress`);
    expect(read(rel('todo'))).to.equal(before);
    const unknown = await rejection(runTool(taskStart, control(), { task_id: 'CHAIN-001-add-login/009-x' }));
    expect(unknown.message).to.contain('unknown task "009-x"');
    const bad = await rejection(runTool(taskStart, control(), { task_id: '../../etc/passwd' }));
    expect(bad).to.be.instanceOf(ToolFailure);
  });

  it('a policy that denies the move refuses the call and leaves the file in place', async () => {
    const ctx = control({ decide: (r, a) => (a === 'create' && r.startsWith('docs/tasks/in-progress/') ? 'deny' : 'allow') });
    const err = await rejection(runTool(taskStart, ctx, { task_id: FORM }));
    expect(err).to.be.instanceOf(ToolRefusal);
    expect(exists(rel('todo'))).to.equal(true);
    expect(exists(rel('in-progress'))).to.equal(false);
    expect(ctx.mutations).to.deep.equal([]);
  });

  it('submitForReview appends the completion summary with the session id and moves to in-review', async () => {
    await runTool(taskStart, control(), { task_id: FORM });
    const impl = testToolContext(ws);
    Object.assign(impl, { session: { ...impl.session, id: 'impl-7', taskId: FORM, chainId: chain } });
    const { task, from } = await submitForReview(impl, FORM, 'Built the form; tests pass.');
    expect(from).to.equal('in-progress');
    expect(task.rel).to.equal(rel('in-review'));
    const text = read(rel('in-review'));
    expect(text).to.contain('**Status**: in-review');
    expect(text).to.match(/## Completion summary\n\n\*\*Session\*\*: impl-7  \n\*\*Date\*\*: \S+\n\nBuilt the form; tests pass.\n$/);
    expect(impl.authorizations.filter((a) => a.action !== 'read').map((a) => a.action)).to.deep.equal(['move', 'create']);
    expect((await rejection(submitForReview(impl, FORM, 'again'))).message).to.contain('from in-review to in-review');
  });

  it('task_rework appends the feedback and moves back to in-progress; task_approve moves to done', async () => {
    await runTool(taskStart, control(), { task_id: FORM });
    const impl = testToolContext(ws);
    await submitForReview(impl, FORM, 'First try.');
    const out = await runTool(taskRework, control(), { task_id: FORM, feedback: 'The submit button does nothing.' });
    expect(out).to.contain('in-review → in-progress').and.contain('Feedback appended.');
    const text = read(rel('in-progress'));
    expect(text).to.match(/## Rework feedback\n\n\*\*Session\*\*: ctl-1  \n\*\*Date\*\*: \S+\n\nThe submit button does nothing.\n$/);

    await submitForReview(impl, FORM, 'Second try.');
    const approved = await runTool(taskApprove, control(), { task_id: FORM, feedback: 'Looks good.' });
    expect(approved).to.equal(`Task ${FORM} approved: in-review → done (${rel('done')}). Review notes appended.`);
    const done = read(rel('done'));
    expect(done).to.contain('**Status**: done').and.contain('## Review notes').and.contain('First try.').and.contain('Second try.');
    expect(exists(rel('in-review'))).to.equal(false);
    expect(await runTool(chainStatus, control(), { chain_id: chain })).to.contain('last session test-session');
  });

  it('caps a long answer with a note', async () => {
    const store = openTaskStore(ws);
    for (let i = 0; i < 25; i++) await store.addTask(chain, `Task number ${i} with a fairly long title to fill the output`);
    const out = await runTool(taskList, control({ limits: { outputBytes: 1000 } }), {});
    expect(Buffer.byteLength(out)).to.be.below(1100);
    expect(out).to.match(/\[output capped at 1000 bytes: \d+ more lines not shown; give chain_id to see one chain\]$/);
  });
});
