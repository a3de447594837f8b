// Terminal injection (issue 15 class 7), through the real CLI: a model that
// names files, tools and errors with escape sequences and newlines, and ends
// with an answer full of them, reaches the progress lines, the final line,
// agent:show and metrics:query only as visible escapes.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const ESC = '\x1b';
const FORGED = '✗ forged line';
const use = (name: string, input: unknown) => ({ type: 'tool_use', name, input });

const SCRIPT = {
  sessions: [{ role: 'impl', turns: [
    { content: [
      // A tool the session does not hold, whose name retitles the window.
      use(`read_file${ESC}]0;pwned\x07`, { path: 'src/a.ts' }),
      // A denied path that erases the line above and forges one of its own.
      use('write_file', { path: `docs/x${ESC}[1A${ESC}[2K\n${FORGED}.md`, content: 'x' }),
      // A failing call whose error names a path with a colour and a carriage return.
      use('edit_file', { path: `src/${ESC}[31mred\rgone.ts`, old_string: 'a', new_string: 'b' }),
      // A file that lands, with a name that hides itself.
      use('write_file', { path: `src/ok\u202etxt.ts`, content: 'export {};\n' }),
    ] },
    { content: [{ type: 'text', text: `All done.${ESC}[2J${ESC}[H\nsecond line\rover` }] },
  ] }],
};

/** No byte that a terminal would act on: only newlines may remain. */
function expectInert(text: string, where: string): void {
  // eslint-disable-next-line no-control-regex
  expect(text, where).to.not.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  expect(text.split('\n').some((l) => l.startsWith(FORGED)), `${where}: forged line`).to.equal(false);
}

describe('terminal injection (issue 15 class 7)', function () {
  let ws: string;
  let script: string;

  before(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/a.ts': 'export const a = 1;\n' });
    script = path.join(ws, 'hostile.json');
    writeFileSync(script, JSON.stringify(SCRIPT));
  });
  after(() => removeWorkspace(ws));

  let rootId = '';

  it('agent:start: progress lines, the final line and the answer show escapes, never act on them', async () => {
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'go', '--provider', 'script', '--script', script, '--no-record-commits', '-w', ws]);
    expect(r.code, r.stderr).to.equal(0);
    expectInert(r.stderr, 'stderr');
    expectInert(r.stdout, 'stdout');
    // What the model did is still shown, as visible escapes.
    expect(r.stderr).to.include('read_file\\x1b]0;pwned\\x07');
    expect(r.stderr).to.include('\\x1b[1A\\x1b[2K\\n✗ forged line.md');
    expect(r.stdout).to.include('All done.\\x1b[2J\\x1b[H\nsecond line\\rover');
    rootId = /root (\S+)/.exec(r.stderr)![1]!;
  });

  it('agent:show and metrics:query print the recorded names and answer inert', async () => {
    const show = await runCli(['agent:show', rootId, '-w', ws]);
    expect(show.code, show.stderr).to.equal(0);
    expectInert(show.stdout, 'agent:show');
    expect(show.stdout).to.include('src/ok\\u202etxt.ts');
    expect(show.stdout).to.include('second line\\rover');
    const query = await runCli(['metrics:query', 'SELECT tool, path, error FROM tool_calls ORDER BY seq', '-w', ws]);
    expect(query.code, query.stderr).to.equal(0);
    expectInert(query.stdout, 'metrics:query');
    expect(query.stdout).to.include('\\x1b[31mred\\rgone.ts');
    const list = await runCli(['agent:list', '-w', ws]);
    expectInert(list.stdout, 'agent:list');
  });
});
