// The live view on a terminal (issue 19 items 1 and 3): the tree fits the
// width and the height, is erased and redrawn in place (so the scrollback
// holds at most the final copy), follows a resize, steps aside while an
// approval question is open, and shows names only through the sanitizer.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditLine } from '../../../runtime/audit/events.js';
import { ProgressView } from '../../../runtime/run/progress-view.js';
import { type TreeRow, treeLines } from '../../../runtime/run/session-tree.js';
import { VirtualTerminal } from '../../support/virtual-terminal.js';

let seq = 0;
const line = (event: Record<string, unknown>) => ({ line_seq: seq++, ts: new Date().toISOString(), prev: '', ...event }) as unknown as AuditLine;
const started = (id: string, parent: string | null, role = 'impl') =>
  line({ type: 'session_started', session_id: id, parent_id: parent, root_id: 'root', role, depth: parent ? 1 : 0, model: 'm', task_id: null, chain_id: null, started_at: '', tools: [] });
const ended = (id: string, status = 'completed') =>
  line({ type: 'session_ended', session_id: id, status, ended_at: '', duration_ms: 1, error: null, final_text: '', files_changed: [] });
const denied = (id: string, path: string) =>
  line({ type: 'tool_call', session_id: id, seq: 1, tool: 'write_file', tool_use_id: 't', started_at: '', duration_ms: 1, decision: 'deny', rule: 'default', path, is_error: true, error: `denied: impl may not create ${path} (rule default)` });
const modelCall = (id: string) =>
  line({ type: 'model_call', session_id: id, seq: 1, started_at: '', duration_ms: 1, model: 'm', input_tokens: 123456, output_tokens: 7890, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0, stop_reason: 'end_turn', retries: 0 });

const ROOT = 'mx34iryd519af8';
const child = (i: number) => `mx34is2q${String(i).padStart(6, '0')}`;
const rootLine = (l: string) => l.startsWith(`control ${ROOT}`);
/** Let the view's throttled redraw run. */
const settle = () => sleep(5);

describe('live progress view', () => {
  it('a tree of 30 children on a 70x20 terminal: no line wider than the screen, never taller, one copy left in the scrollback', async () => {
    const term = new VirtualTerminal(70, 20);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    view.onEvent(modelCall(ROOT));
    for (let i = 0; i < 30; i++) {
      view.onEvent(started(child(i), ROOT));
      view.onEvent(modelCall(child(i)));
      await settle();
      if (i % 3 === 0) view.onEvent(denied(child(i), `src/${'deep/'.repeat(i)}file.ts`));
      if (i >= 5) view.onEvent(ended(child(i - 5), i % 7 ? 'completed' : 'failed'));
      await settle();
      const screen = term.screen();
      expect(screen.filter(rootLine), `redraw ${i}`).to.have.length(1);
      const tree = screen.slice(screen.findIndex(rootLine)).filter((l) => l !== '');
      expect(tree.length).to.be.at.most(18);
    }
    expect(term.screen().join('\n')).to.match(/finished sessions: \d+ completed, \d+ failed/);
    for (const l of term.lines()) expect(l.length).to.be.at.most(70);
    view.finish({ status: 'completed', exitCode: 0, rootId: ROOT, durationMs: 1, inputTokens: 1, outputTokens: 1, costUsd: 0, sessions: 31, error: null });
    const all = term.lines();
    expect(all.filter(rootLine)).to.have.length(1);
    // The final tree is whole: every child is on it.
    for (let i = 0; i < 30; i++) expect(all.filter((l) => l.includes(child(i)) && l.includes('model 1'))).to.have.length(1);
  });

  it('erases as many rows as the drawn lines take after a resize (a terminal reflows them)', async () => {
    const term = new VirtualTerminal(80, 30);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    view.onEvent(started(child(1), ROOT));
    await settle();
    const drawn = term.screen().filter((l) => l.includes(ROOT) || l.includes(child(1))).filter((l) => !l.startsWith('▶'));
    const widths = drawn.map((l) => [...l].length);
    expect(Math.max(...widths)).to.be.at.most(79);
    term.columns = 30;
    const before = term.raw.length;
    (term.stream as any).emit('resize');
    const expected = widths.reduce((n, w) => n + Math.ceil(w / 30), 0);
    expect(term.raw.slice(before)).to.include(`\x1b[${expected}A${'\x1b[2K\x1b[1B'.repeat(expected - 1)}\x1b[2K\x1b[${expected - 1}A`);
    for (const l of term.raw.slice(before).split('\n')) expect([...l.replace(/\r|\x1b\[\d*[ABJK]/g, '')].length).to.be.at.most(29);
    view.freeze();
  });

  it('a tree drawn from the top-left corner is redrawn there without pushing copies into the scrollback', async () => {
    // After a resize the tree can end up on the first row of the screen; erasing "to the end of the
    // screen" from there is a full-screen clear, which tmux first scrolls into the history.
    const term = new VirtualTerminal(60, 8);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    view.onEvent(started(child(1), ROOT));
    await settle();
    term.columns = 30;
    (term.stream as any).emit('resize');
    for (let i = 0; i < 5; i++) {
      view.onEvent(modelCall(child(1)));
      await settle();
    }
    expect(term.scrolledByClear).to.deep.equal([]);
    expect(term.lines().filter(rootLine)).to.have.length(1);
    view.freeze();
  });

  it('a terminal narrowed to half its width or made shorter mid-run keeps the tree on the screen, so no copy is left above', async () => {
    // The terminal rewraps the tree before the view hears of the resize: rows pushed off the top then are
    // beyond any erase. A tree of at most half the screen still fits after every line has become two rows.
    for (const [columns, rows] of [[50, 20], [100, 12], [60, 16]]) {
      const term = new VirtualTerminal(100, 20);
      const view = new ProgressView('live', term.stream, term.stream, 0);
      view.onEvent(started(ROOT, null, 'control'));
      for (let i = 0; i < 12; i++) {
        view.onEvent(started(child(i), ROOT));
        view.onEvent(modelCall(child(i)));
        if (i < 8) view.onEvent(ended(child(i)));
      }
      await settle();
      expect(term.screen().filter(rootLine)).to.have.length(1);
      term.shrink(columns, rows);
      (term.stream as any).emit('resize');
      for (let i = 8; i < 12; i++) {
        view.onEvent(modelCall(child(i)));
        await settle();
      }
      view.finish({ status: 'completed', exitCode: 0, rootId: ROOT, durationMs: 1, inputTokens: 1, outputTokens: 1, costUsd: 0, sessions: 13, error: null });
      expect(term.lines().filter(rootLine), `${columns}x${rows}:\n${term.lines().join('\n')}`).to.have.length(1);
    }
  });

  it('pause() takes the tree off the screen and holds notes; resume() prints them and redraws', async () => {
    const term = new VirtualTerminal(120, 30);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    await settle();
    expect(term.screen().filter(rootLine)).to.have.length(1);
    view.pause();
    expect(term.screen().filter(rootLine)).to.have.length(0);
    const quiet = term.raw.length;
    view.onEvent(started(child(1), ROOT));
    view.onEvent(denied(child(1), 'docs/x.md'));
    await settle();
    expect(term.raw.length, 'nothing drawn while a question is open').to.equal(quiet);
    view.resume();
    await settle();
    const screen = term.screen().join('\n');
    expect(screen).to.include(`✗ ${child(1)} write_file: denied: impl may not create docs/x.md (rule default)`);
    expect(term.screen().filter(rootLine)).to.have.length(1);
    view.freeze();
  });

  it('says a failed call once: "write_file was not run: …", not "write_file failed: write_file was not run: …"', async () => {
    const term = new VirtualTerminal(200, 30);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    const failed = (error: string) => line({ type: 'tool_call', session_id: ROOT, seq: 1, tool: 'write_file', tool_use_id: 't', started_at: '', duration_ms: 1, decision: 'allow', rule: 'r', path: 'src/a.ts', is_error: true, error });
    view.onEvent(failed('write_file was not run: the budget is spent'));
    view.onEvent(failed('no room left on the device (ENOSPC): src/a.ts'));
    await settle();
    const screen = term.lines().join('\n');
    expect(screen).to.include(`  ${ROOT} write_file was not run: the budget is spent`);
    expect(screen).to.include(`  ${ROOT} write_file failed: no room left on the device (ENOSPC): src/a.ts`);
    view.freeze();
  });

  it('shows names only through the sanitizer, so a path cannot forge a line or move the cursor', async () => {
    const term = new VirtualTerminal(200, 30);
    const view = new ProgressView('live', term.stream, term.stream, 0);
    view.onEvent(started(ROOT, null, 'control'));
    view.onEvent(denied(ROOT, 'a\x1b[2A\x1b[0J\n✗ forged'));
    await settle();
    expect(term.lines().some((l) => l.startsWith('✗ forged'))).to.equal(false);
    expect(term.lines().join('\n')).to.include('a\\x1b[2A\\x1b[0J\\n✗ forged');
    view.freeze();
  });
});

describe('session tree lines', () => {
  const row = (id: string, parent: string | null, status = 'running'): TreeRow =>
    ({ id, parent, role: parent ? 'impl' : 'control', status, modelCalls: 1, toolCalls: 2, inTok: 15_300, outTok: 420 });

  it('folds finished children into one line per parent only when the tree is too tall', () => {
    const rows = [row('r', null), row('a', 'r', 'completed'), row('b', 'r', 'failed'), row('c', 'r'), row('d', 'c', 'completed')];
    expect(treeLines(rows)).to.have.length(5);
    const folded = treeLines(rows, { maxLines: 4 });
    expect(folded).to.deep.equal([
      'control r … running    model 1  tools 2  15.3k/420 tok',
      '├─ impl    c … running    model 1  tools 2  15.3k/420 tok',
      '│  └─ 1 finished session: 1 completed',
      '└─ 2 finished sessions: 1 completed, 1 failed',
    ]);
  });

  it('cuts what still does not fit, saying how much and how many still run', () => {
    const rows = [row('r', null), ...Array.from({ length: 10 }, (_, i) => row(`c${i}`, 'r'))];
    const lines = treeLines(rows, { maxLines: 5 });
    expect(lines).to.have.length(5);
    expect(lines[4]).to.equal('… 7 more lines (11 sessions running)');
  });

  it('cuts every line to one less than the width, with an ellipsis', () => {
    const lines = treeLines([row('r'.repeat(50), null)], { columns: 40 });
    expect([...lines[0]!].length).to.equal(39);
    expect(lines[0]!.endsWith('…')).to.equal(true);
  });
});
