// The operator's terminal, for real (issue 19 items 1-3 and 9): the CLI runs
// in tmux while a control session fans out two impl sessions, one of which
// needs approval while the other keeps working. The question must be whole on
// the screen when it appears and after the other session has done more work;
// y applies the change, n refuses it, Ctrl-C ends the run at once (exit 130,
// audited as interrupted); and a narrow terminal, resized mid-run, keeps at
// most one copy of the session tree in its scrollback.
import { expect } from 'chai';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, makeWorkspace, removeWorkspace } from '../../support/cli.js';
import { realGit } from '../../support/git-repo.js';
import { TmuxTerminal, hasTmux } from '../../support/tmux.js';

const POLICY = `
mutations:
  deny: [{ pattern: ".git/**" }, { pattern: ".choragen/**" }, { pattern: "choragen.governance.yaml" }]
  approve:
    - { pattern: "package.json", actions: [modify], reason: "review dependency changes" }
roles:
  impl: { allow: [{ pattern: "src/**" }, { pattern: "package.json" }] }
  control: { allow: [{ pattern: "docs/**" }] }
`;
const PACKAGE = '{ "name": "demo", "version": "1.0.0" }\n';
const BUMPED = '{ "name": "demo", "version": "2.0.0" }\n';

const text = (t: string) => ({ content: [{ type: 'text', text: t }] });
const write = (file: string, content: string, delay_ms = 0) =>
  ({ delay_ms, content: [{ type: 'tool_use', name: 'write_file', input: { path: file, content } }] });
const spawn = (instructions: string) => ({ type: 'tool_use', name: 'spawn_impl_session', input: { instructions } });

/** Control fans out two impl sessions: one asks to change package.json, the other keeps writing for a few seconds. */
const APPROVAL_SCRIPT = { sessions: [
  { role: 'control', turns: [{ content: [spawn('Bump the version in package.json'), spawn('Keep working on src/work.ts')] }, text('Both done.')] },
  { role: 'impl', match: 'Bump the version', turns: [write('package.json', BUMPED, 300), text('bumped')] },
  { role: 'impl', match: 'Keep working', turns: [
    ...Array.from({ length: 12 }, (_, i) => write(`src/work${i}.ts`, `export const w = ${i};\n`, 500)), text('worked')] },
] };

/** Control fans out three impl sessions that work for a while; one is refused twice. */
const FAN_SCRIPT = { sessions: [
  { role: 'control', turns: [{ content: [spawn('alpha: write src/a*.ts'), spawn('beta: write src/b*.ts'), spawn('gamma: try .env')] }, text('All reviewed.')] },
  ...['alpha', 'beta'].map((name) => ({ role: 'impl', match: name, turns: [
    ...Array.from({ length: 6 }, (_, i) => write(`src/${name[0]}${i}.ts`, `export const x = ${i};\n`, 300)), text(`${name} done`)] })),
  { role: 'impl', match: 'gamma', turns: [
    { delay_ms: 300, content: [{ type: 'tool_use', name: 'read_file', input: { path: '.env' } }] },
    write('../outside.txt', 'x', 300), ...Array.from({ length: 4 }, (_, i) => write(`src/g${i}.ts`, 'export {};\n', 300)), text('gamma done')] },
] };

describe('on a real terminal (tmux)', function () {
  this.timeout(120_000);
  let ws: string;
  let term: TmuxTerminal | null = null;

  before(function () {
    if (!hasTmux()) this.skip();
  });
  beforeEach(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': POLICY, 'package.json': PACKAGE, 'src/index.ts': 'export {};\n' });
    realGit(ws, 'init', '-q');
  });
  afterEach(() => {
    term?.close();
    term = null;
    removeWorkspace(ws);
  });

  function start(script: object, columns: number, rows: number): TmuxTerminal {
    const file = path.join(ws, '.script.json');
    writeFileSync(file, JSON.stringify(script));
    return (term = TmuxTerminal.start([process.execPath, CLI, 'agent:start', '--role', 'control', '--provider', 'script', '--script', file, '-m', 'go'],
      { cwd: ws, columns, rows }));
  }

  const auditLines = (): any[] => {
    const dir = path.join(ws, '.choragen/audit');
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names.flatMap((n) => readFileSync(path.join(dir, n), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)));
  };
  const workerWrites = () => auditLines().filter((e) => e.type === 'tool_call' && /^src\/work/.test(e.path ?? '')).length;

  /** The question, the rule, the path and the whole diff, in order, with nothing drawn below the question. */
  function expectWholePrompt(screen: string[]): void {
    const at = (needle: string) => screen.findIndex((l) => l.includes(needle));
    const order = [
      at('── approval needed ──'), at('wants write_file on package.json'), at('rule mutations.approve[0]: review dependency changes'),
      at('--- a/package.json'), at('+++ b/package.json'), at('-{ "name": "demo", "version": "1.0.0" }'),
      at('+{ "name": "demo", "version": "2.0.0" }'), at('allow? [y/N]'),
    ];
    expect(order.every((i) => i >= 0), `prompt incomplete:\n${screen.join('\n')}`).to.equal(true);
    expect([...order].sort((a, b) => a - b), `prompt out of order:\n${screen.join('\n')}`).to.deep.equal(order);
    expect(screen.slice(order.at(-1)! + 1).every((l) => l.trim() === ''), `drawn over:\n${screen.join('\n')}`).to.equal(true);
  }

  async function atPrompt(t: TmuxTerminal): Promise<void> {
    await t.until('the approval prompt', () => t.screen().some((l) => l.includes('allow? [y/N]')));
    expectWholePrompt(t.screen());
    // The other session keeps working while the question is open, and the question stays whole.
    const before = workerWrites();
    await t.until('the other session to write more', () => workerWrites() >= before + 2);
    expectWholePrompt(t.screen());
  }

  it('the approval prompt stays whole while another session works; y applies the change', async () => {
    const t = start(APPROVAL_SCRIPT, 100, 30);
    await atPrompt(t);
    t.keys('y', 'Enter');
    expect(await t.until('the run to end', () => t.exitStatus() ?? undefined)).to.equal(0);
    expect(readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal(BUMPED);
    expect(auditLines().find((e) => e.type === 'approval')).to.include({ path: 'package.json', answer: 'yes', by: 'terminal' });
  });

  it('n refuses the change; the run goes on and ends normally', async () => {
    const t = start(APPROVAL_SCRIPT, 100, 30);
    await atPrompt(t);
    t.keys('n', 'Enter');
    expect(await t.until('the run to end', () => t.exitStatus() ?? undefined)).to.equal(0);
    expect(readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal(PACKAGE);
    expect(auditLines().find((e) => e.type === 'approval')).to.include({ answer: 'no', by: 'terminal' });
    expect(auditLines().filter((e) => e.type === 'tool_call' && e.path === 'package.json')[0]).to.include({ decision: 'rejected' });
  });

  it('Ctrl-C at the prompt ends the run at once: exit 130, audited as interrupted, nothing applied', async () => {
    const t = start(APPROVAL_SCRIPT, 100, 30);
    await t.until('the approval prompt', () => t.screen().some((l) => l.includes('allow? [y/N]')));
    const sent = Date.now();
    t.keys('C-c');
    const status = await t.until('the run to end', () => t.exitStatus() ?? undefined, 10_000);
    const elapsed = Date.now() - sent;
    expect(status).to.equal(130);
    expect(elapsed, 'ms from Ctrl-C to exit').to.be.below(3000);
    expect(readFileSync(path.join(ws, 'package.json'), 'utf8')).to.equal(PACKAGE);
    expect(auditLines().find((e) => e.type === 'approval')).to.include({ answer: 'no', by: 'interrupted' });
    expect(auditLines().filter((e) => e.type === 'session_ended').map((e) => e.status)).to.include('interrupted');
  });

  it('a 70-column terminal, narrowed and widened mid-run, keeps at most one copy of the tree in its scrollback', async () => {
    const t = start(FAN_SCRIPT, 70, 20);
    const treeRows = () => t.everything().filter((l) => /^control \S+ /.test(l)).length;
    await t.until('the tree with its three children', () => t.screen().filter((l) => /^[├└]─ impl/.test(l)).length === 3);
    t.resize(50, 20);
    const before = auditLines().length;
    await t.until('more progress', () => auditLines().length >= before + 4);
    t.resize(70, 20);
    expect(await t.until('the run to end', () => t.exitStatus() ?? undefined)).to.equal(0);
    const all = t.everything();
    expect(treeRows(), all.join('\n')).to.equal(1);
    // The final tree is whole and no drawn line is wider than the terminal.
    expect(all.filter((l) => /^[├└]─ impl/.test(l))).to.have.length(3);
    expect(all.filter((l) => /^[├└]─ impl/.test(l) || /^control /.test(l)).every((l) => [...l].length <= 70)).to.equal(true);
  });
});
