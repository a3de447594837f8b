import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ToolFailure } from '../../../policy/errors.js';
import {
  ALLOWED_MOVES,
  TASK_STATUSES,
  appendSectionText,
  chainIdFor,
  checkTransition,
  formatTaskFile,
  lastCompletionSession,
  openTaskStore,
  parseTaskFile,
  parseTaskRef,
  setStatusLine,
  slugify,
  taskNameFor,
  type TaskStore,
} from '../../../capabilities/tasks/store.js';
import { chainContextForControl, taskContextForChild } from '../../../capabilities/tasks/session.js';
import { chainTableRows, formatChainStatusTable } from '../../../capabilities/tasks/views.js';
import { rejection } from '../../support/assertions.js';

describe('task chains: pure helpers', () => {
  it('makes ids from a sequence and a title', () => {
    expect(slugify('Add login!', 'x')).to.equal('add-login');
    expect(slugify('Écrire  le   README', 'x')).to.equal('ecrire-le-readme');
    expect(slugify('日本語', 'task')).to.equal('task');
    expect(slugify('one two three four five six seven eight nine ten', 'x', 20)).to.equal('one-two-three-four');
    expect(chainIdFor(1, 'Add login')).to.equal('CHAIN-001-add-login');
    expect(chainIdFor(1234, 'x y')).to.equal('CHAIN-1234-x-y');
    expect(taskNameFor(7, 'Create the form')).to.equal('007-create-the-form');
  });

  it('parses task references and refuses anything that could name another path', () => {
    expect(parseTaskRef('CHAIN-001-a/002-b')).to.deep.equal({ chainId: 'CHAIN-001-a', name: '002-b' });
    expect(parseTaskRef('002-b', 'CHAIN-001-a')).to.deep.equal({ chainId: 'CHAIN-001-a', name: '002-b' });
    expect(parseTaskRef('002-b.md')).to.deep.equal({ chainId: null, name: '002-b' });
    expect(parseTaskRef('2')).to.deep.equal({ chainId: null, name: '2' });
    for (const bad of ['../x', 'CHAIN-001-a/../../etc', 'a/b/c', 'CHAIN-001-a/', 'notes', '/001-a']) {
      expect(() => parseTaskRef(bad), bad).to.throw(ToolFailure, 'is not a task id');
    }
    expect(() => parseTaskRef('001-a', '../x')).to.throw(ToolFailure, 'not a chain id');
    expect(() => parseTaskRef('CHAIN-001-a/001-b', 'CHAIN-002-c')).to.throw(ToolFailure, 'not in chain CHAIN-002-c');
  });

  it('allows exactly the documented moves', () => {
    const legal: string[] = [];
    for (const from of TASK_STATUSES) for (const to of TASK_STATUSES) {
      try {
        checkTransition('T', from, to);
        legal.push(`${from}>${to}`);
      } catch (err) {
        expect(err).to.be.instanceOf(ToolFailure);
        expect((err as Error).message).to.contain(`from ${from} to ${to}`);
        expect((err as Error).message.split('\n')).to.have.length(1);
      }
    }
    expect(legal).to.deep.equal(['backlog>todo', 'backlog>in-progress', 'todo>in-progress', 'in-progress>in-review', 'in-review>in-progress', 'in-review>done']);
    expect(Object.keys(ALLOWED_MOVES)).to.deep.equal([...TASK_STATUSES]);
  });

  it('says the current status and what is allowed when a move is illegal', () => {
    expect(() => checkTransition('C/001-a', 'in-progress', 'done')).to.throw(
      'cannot move task C/001-a from in-progress to done: from in-progress it can move to in-review',
    );
    expect(() => checkTransition('C/001-a', 'done', 'in-progress')).to.throw('done is final');
  });

  it('writes choragen\'s task file format and reads it back', () => {
    const text = formatTaskFile({ title: 'Create the form', chainId: 'CHAIN-001-add-login', name: '001-create-the-form', status: 'backlog', type: 'impl', created: '2025-01-02' });
    expect(text.split('\n').slice(0, 8)).to.deep.equal([
      '# Task: Create the form',
      '',
      '**Chain**: CHAIN-001-add-login  ',
      '**Task**: 001-create-the-form  ',
      '**Status**: backlog  ',
      '**Type**: impl  ',
      '**Created**: 2025-01-02',
      '',
    ]);
    const parsed = parseTaskFile(text);
    expect(parsed.title).to.equal('Create the form');
    expect(parsed.fields).to.deep.equal({ Chain: 'CHAIN-001-add-login', Task: '001-create-the-form', Status: 'backlog', Type: 'impl', Created: '2025-01-02' });
    expect(parsed.sections.map((s) => s.heading)).to.deep.equal(['Objective', 'Expected Files', 'Acceptance Criteria']);
    expect(parsed.sections[0]!.body).to.equal('Create the form');
  });

  it('uses a body with sections as written, and a plain body as the objective', () => {
    const base = { title: 'T', chainId: 'CHAIN-001-a', name: '001-t', status: 'todo' as const, type: 'control' as const, created: '2025-01-02' };
    const withSections = parseTaskFile(formatTaskFile({ ...base, body: '## Objective\n\nDo it.\n\n## Notes\n\nCareful.' }));
    expect(withSections.sections).to.deep.equal([{ heading: 'Objective', body: 'Do it.' }, { heading: 'Notes', body: 'Careful.' }]);
    const plain = parseTaskFile(formatTaskFile({ ...base, body: 'Just do it.' }));
    expect(plain.sections[0]).to.deep.equal({ heading: 'Objective', body: 'Just do it.' });
    expect(plain.fields.Type).to.equal('control');
  });

  it('updates the Status line in place, or adds one', () => {
    const text = '# Task: T\n\n**Chain**: C  \n**Task**: 001-t  \n**Status**: todo  \n**Created**: x\n\n---\n\n## Objective\n\n**Status**: not-this-one\n';
    const moved = setStatusLine(text, 'in-progress');
    expect(moved).to.contain('**Status**: in-progress  \n');
    expect(moved).to.contain('**Status**: not-this-one');
    const added = setStatusLine('# Task: T\n\n**Task**: 001-t\n\n## Objective\n', 'done');
    expect(added).to.equal('# Task: T\n\n**Task**: 001-t\n**Status**: done  \n\n## Objective\n');
  });

  it('appends sections with session and date, and finds the last completing session', () => {
    let text = formatTaskFile({ title: 'T', chainId: 'CHAIN-001-a', name: '001-t', status: 'in-progress', type: 'impl', created: 'd' });
    expect(lastCompletionSession(text)).to.equal(null);
    text = appendSectionText(text, 'Completion summary', 'First try.', { session: 's-1', date: '2025-01-01T00:00:00Z' });
    text = appendSectionText(text, 'Rework feedback', 'Fix it.', { session: 'ctl-1' });
    text = appendSectionText(text, 'Completion summary', 'Second try.\n', { session: 's-2' });
    expect(lastCompletionSession(text)).to.equal('s-2');
    const sections = parseTaskFile(text).sections;
    expect(sections.slice(3).map((s) => s.heading)).to.deep.equal(['Completion summary', 'Rework feedback', 'Completion summary']);
    expect(sections[3]!.body).to.equal('**Session**: s-1  \n**Date**: 2025-01-01T00:00:00Z\n\nFirst try.');
    expect(text.endsWith('Second try.\n')).to.equal(true);
  });
});

describe('task chains: the store (plain fs)', () => {
  let ws: string;
  let store: TaskStore;
  beforeEach(() => {
    ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-tasks-')));
    let tick = 0;
    store = openTaskStore(ws);
    // A fixed clock keeps file contents predictable.
    (store as unknown as { now: () => Date }).now = () => new Date(Date.UTC(2025, 0, 2, 3, 4, tick++));
  });
  afterEach(() => fs.rmSync(ws, { recursive: true, force: true }));

  const read = (rel: string) => fs.readFileSync(path.join(ws, rel), 'utf8');
  const exists = (rel: string) => fs.existsSync(path.join(ws, rel));

  it('creates chains with the next sequence number, metadata and a backlog folder', async () => {
    const first = await store.createChain('Add login');
    expect(first.id).to.equal('CHAIN-001-add-login');
    const meta = JSON.parse(read('docs/tasks/.chains/CHAIN-001-add-login.json'));
    expect(meta).to.include({ id: 'CHAIN-001-add-login', sequence: 1, slug: 'add-login', title: 'Add login' });
    expect(meta.createdAt).to.equal('2025-01-02T03:04:00.000Z');
    expect(meta.tasks).to.deep.equal([]);
    expect(fs.statSync(path.join(ws, 'docs/tasks/backlog/CHAIN-001-add-login')).isDirectory()).to.equal(true);
    // A chain that exists only as a folder still counts for numbering.
    fs.mkdirSync(path.join(ws, 'docs/tasks/done/CHAIN-007-old'), { recursive: true });
    expect((await store.createChain('Next')).id).to.equal('CHAIN-008-next');
    expect(await store.chainIds()).to.deep.equal(['CHAIN-001-add-login', 'CHAIN-007-old', 'CHAIN-008-next']);
    expect((await rejection(store.createChain('   '))).message).to.equal('a chain needs a title');
  });

  it('adds numbered tasks to backlog (or todo) and records them in the chain metadata', async () => {
    const { id: chain } = await store.createChain('Add login');
    const a = await store.addTask(chain, 'Create the form');
    const b = await store.addTask(chain, 'Session store', { status: 'todo', body: 'Keep sessions in memory.' });
    expect(a).to.include({ id: 'CHAIN-001-add-login/001-create-the-form', status: 'backlog', rel: 'docs/tasks/backlog/CHAIN-001-add-login/001-create-the-form.md', title: 'Create the form', type: 'impl' });
    expect(b).to.include({ id: 'CHAIN-001-add-login/002-session-store', status: 'todo' });
    expect(read(b.rel)).to.contain('**Status**: todo').and.contain('## Objective\n\nKeep sessions in memory.');
    expect(JSON.parse(read(`docs/tasks/.chains/${chain}.json`)).tasks).to.deep.equal(['001-create-the-form', '002-session-store']);
    const err = await rejection(store.addTask('CHAIN-009-nope', 'x'));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('unknown chain "CHAIN-009-nope" (chains: CHAIN-001-add-login)');
  });

  it('finds tasks by full id, by name in a chain, by unique name, and by number', async () => {
    const one = (await store.createChain('One')).id;
    const two = (await store.createChain('Two')).id;
    await store.addTask(one, 'Alpha');
    await store.addTask(one, 'Beta');
    await store.addTask(two, 'Alpha');
    expect((await store.findTask('CHAIN-001-one/002-beta')).id).to.equal('CHAIN-001-one/002-beta');
    expect((await store.findTask('002-beta')).id).to.equal('CHAIN-001-one/002-beta');
    expect((await store.findTask('001-alpha', two)).id).to.equal('CHAIN-002-two/001-alpha');
    expect((await store.findTask('2', one)).id).to.equal('CHAIN-001-one/002-beta');
    const found = await store.findTask('CHAIN-001-one/001-alpha');
    expect(found).to.include({ chainId: one, name: '001-alpha', status: 'backlog' });
    expect(found.text).to.equal(read(found.rel));

    const ambiguous = await rejection(store.findTask('001-alpha'));
    expect(ambiguous.message).to.equal('task "001-alpha" exists in several chains (CHAIN-001-one, CHAIN-002-two); give the full id CHAIN-NNN-slug/001-alpha');
    expect((await rejection(store.findTask('009-x', one))).message).to.equal('unknown task "009-x" in chain CHAIN-001-one (tasks: 001-alpha, 002-beta)');
    expect((await rejection(store.findTask('CHAIN-005-gone/001-x'))).message).to.contain('unknown chain "CHAIN-005-gone"');
    expect((await rejection(store.findTask('004-none'))).message).to.contain('unknown task "004-none"');
  });

  it('moves tasks along legal transitions, updating the Status line', async () => {
    const chain = (await store.createChain('C')).id;
    const task = await store.addTask(chain, 'Do it');
    let moved = await store.moveTask(task.id, 'todo');
    expect(moved.from).to.equal('backlog');
    expect(exists(task.rel)).to.equal(false);
    expect(moved.task.rel).to.equal('docs/tasks/todo/CHAIN-001-c/001-do-it.md');
    expect(read(moved.task.rel)).to.contain('**Status**: todo  \n');
    moved = await store.moveTask(task.id, 'in-progress');
    moved = await store.moveTask(task.id, 'in-review', { append: { heading: 'Completion summary', body: 'Done.', session: 'impl-1' } });
    expect(moved.task.lastSession).to.equal('impl-1');
    const err = await rejection(store.moveTask(task.id, 'todo'));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('cannot move task CHAIN-001-c/001-do-it from in-review to todo: from in-review it can move to done or in-progress');
    expect(exists(moved.task.rel)).to.equal(true);
    await store.moveTask(task.id, 'done');
    expect((await store.findTask(task.id)).status).to.equal('done');
  });

  it('summarizes chains and lists tasks in order, the folder being the status', async () => {
    const one = (await store.createChain('One')).id;
    const two = (await store.createChain('Two')).id;
    for (const t of ['A', 'B', 'C']) await store.addTask(one, t);
    await store.moveTask(`${one}/002-b`, 'in-progress');
    await store.addTask(two, 'Z');
    expect((await store.listTasks()).map((t) => `${t.id}:${t.status}`)).to.deep.equal([
      'CHAIN-001-one/001-a:backlog',
      'CHAIN-001-one/002-b:in-progress',
      'CHAIN-001-one/003-c:backlog',
      'CHAIN-002-two/001-z:backlog',
    ]);
    const [summary] = await store.chainStatus(one);
    expect(summary!.title).to.equal('One');
    expect(summary!.counts).to.deep.equal({ backlog: 2, todo: 0, 'in-progress': 1, 'in-review': 0, done: 0 });
    expect(await store.chainStatus()).to.have.length(2);
    expect((await rejection(store.chainStatus('CHAIN-003-x'))).message).to.contain('unknown chain');
    // Files that are not tasks are ignored.
    fs.writeFileSync(path.join(ws, 'docs/tasks/backlog', one, 'README.md'), 'x');
    expect(await store.listTasks(one)).to.have.length(3);
  });

  it('appends sections to a task file', async () => {
    const chain = (await store.createChain('C')).id;
    const task = await store.addTask(chain, 'Do it');
    const updated = await store.appendSection(task.id, 'Notes', 'Remember X.', { session: 's-9' });
    expect(read(task.rel)).to.equal(updated.text);
    expect(parseTaskFile(updated.text).sections.at(-1)).to.deep.equal({ heading: 'Notes', body: '**Session**: s-9  \n**Date**: 2025-01-02T03:04:02.000Z\n\nRemember X.' });
  });

  it('gives a child its task file, chain and status, and control its chain status', async () => {
    const chain = (await store.createChain('Add login')).id;
    const task = await store.addTask(chain, 'Create the form', { status: 'todo' });
    await store.moveTask(task.id, 'in-progress');
    const text = await taskContextForChild(ws, '001-create-the-form', chain);
    expect(text).to.contain('Task: CHAIN-001-add-login/001-create-the-form');
    expect(text).to.contain('Chain: CHAIN-001-add-login (Add login)');
    expect(text).to.contain('Status: in-progress');
    expect(text).to.contain('Task file: docs/tasks/in-progress/CHAIN-001-add-login/001-create-the-form.md');
    expect(text).to.contain(read('docs/tasks/in-progress/CHAIN-001-add-login/001-create-the-form.md').trimEnd());
    expect(text).to.contain('complete_task');

    const control = await chainContextForControl(ws, chain);
    expect(control).to.contain('CHAIN-001-add-login: Add login (1 task: 1 in-progress)');
    expect(control).to.match(/001-create-the-form\s+in-progress\s+Create the form/);
    expect((await rejection(chainContextForControl(ws, 'CHAIN-002-x'))).message).to.contain('unknown chain');
  });

  it('never follows a task folder or file symlinked out of the workspace, nor reads a hard-linked one (issue 15, class 6)', async () => {
    const chain = (await store.createChain('Add login')).id;
    await store.addTask(chain, 'Create the form', { status: 'todo' });
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-tasks-out-')));
    try {
      fs.writeFileSync(path.join(outside, '001-create-the-form.md'), '# Task: stolen\n\nOUTSIDE-SECRET-77\n');
      fs.writeFileSync(path.join(outside, '002-other.md'), '# Task: other\n\nOUTSIDE-SECRET-77\n');
      // A later status folder of the same chain leads out (it would win over todo), and a task file links out.
      fs.mkdirSync(path.join(ws, 'docs/tasks/done'), { recursive: true });
      fs.symlinkSync(outside, path.join(ws, `docs/tasks/done/${chain}`));
      fs.symlinkSync(path.join(outside, '002-other.md'), path.join(ws, `docs/tasks/todo/${chain}/002-other.md`));
      const text = await taskContextForChild(ws, `${chain}/001-create-the-form`);
      expect(text).to.contain('Status: todo').and.not.contain('OUTSIDE-SECRET');
      expect((await rejection(taskContextForChild(ws, `${chain}/002-other`))).message).to.contain('unknown task');
      const listed = await store.listTasks(chain);
      expect(listed.map((t) => t.id)).to.deep.equal([`${chain}/001-create-the-form`]);
      expect(JSON.stringify(await store.chainStatus())).to.not.contain('OUTSIDE-SECRET');

      fs.linkSync(path.join(outside, '002-other.md'), path.join(ws, `docs/tasks/todo/${chain}/003-hard.md`));
      expect((await rejection(taskContextForChild(ws, `${chain}/003-hard`))).message).to.match(/hard links/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('formats the chain:status table with last session and pluggable tokens', async () => {
    const chain = (await store.createChain('C')).id;
    const a = await store.addTask(chain, 'A', { status: 'todo' });
    await store.addTask(chain, 'B');
    await store.moveTask(a.id, 'in-progress');
    await store.moveTask(a.id, 'in-review', { append: { heading: 'Completion summary', body: 'ok', session: 'sess-42' } });
    const summaries = await store.chainStatus();
    const table = formatChainStatusTable(summaries, { tokensByTask: new Map([[a.id, 1234]]) });
    expect(table.split('\n')).to.deep.equal([
      'CHAIN-001-c: C (2 tasks: 1 backlog, 1 in-review)',
      '  TASK   STATUS     LAST SESSION  TOKENS',
      '  001-a  in-review  sess-42       1234',
      '  002-b  backlog    -             -',
      '',
    ]);
    expect(chainTableRows(summaries, { tokensByTask: { [a.id]: 5 } })[0]).to.deep.equal({
      chain: 'CHAIN-001-c', task: a.id, title: 'A', status: 'in-review', last_session: 'sess-42', tokens: 5,
    });
    expect(formatChainStatusTable([])).to.contain('No chains yet');
  });

  it('a chain title written with line breaks stays on its line: it cannot forge a row of chain:status (issue 15 class 7)', async () => {
    const chain = (await store.createChain('C')).id;
    fs.writeFileSync(path.join(ws, 'docs/tasks/.chains', `${chain}.json`), JSON.stringify({ id: chain, title: 'C\r\n✗ forged\u2028row\u0085x', tasks: [] }));
    const table = formatChainStatusTable(await store.chainStatus());
    expect(table.split('\n')[0]).to.equal(`${chain}: C ✗ forged row x (0 tasks)`);
    expect(table.split('\n').some((l) => l.startsWith('✗'))).to.equal(false);
  });
});
