// The live view shows that an answer is arriving (issue 13 item 3) on either
// provider: the CLI runs in tmux against a fake server whose stream stops in
// the middle of an answer; while the stall guard waits, the session's row says
// how many tokens have arrived, and Ctrl-C ends the run (exit 130).
import { expect } from 'chai';
import { CLI, makeWorkspace, removeWorkspace, TEST_POLICY } from '../../support/cli.js';
import { startFakeAnthropic } from '../../support/fake-anthropic.js';
import { startFakeOpenAI } from '../../support/fake-openai.js';
import { TmuxTerminal, hasTmux } from '../../support/tmux.js';

const SCRIPT = { sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'never: the stream stalls' }] }] }] } as any;
const STALL = { faults: [{ kind: 'stall-stream' as const, events: 12 }] };

const PROVIDERS = [
  { name: 'anthropic', start: () => startFakeAnthropic(SCRIPT, STALL), env: (url: string) => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: url }) },
  { name: 'openai', start: () => startFakeOpenAI(SCRIPT, STALL), env: (url: string) => ({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: url }) },
];

describe('the live view while an answer streams in (tmux)', function () {
  this.timeout(60_000);
  let ws: string;
  let term: TmuxTerminal | null = null;
  let close: (() => Promise<void>) | null = null;

  before(function () {
    if (!hasTmux()) this.skip();
  });
  beforeEach(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY });
  });
  afterEach(async () => {
    term?.close();
    term = null;
    await close?.();
    close = null;
    removeWorkspace(ws);
  });

  for (const provider of PROVIDERS) {
    it(`on ${provider.name}: the session's row shows "receiving ~N tok"; Ctrl-C ends the run`, async () => {
      const server = await provider.start();
      close = () => server.close();
      const t = (term = TmuxTerminal.start(
        [process.execPath, CLI, 'agent:start', '--role', 'impl', '-m', 'go', '--provider', provider.name, '--request-timeout', '60'],
        { cwd: ws, columns: 100, rows: 20, env: provider.env(server.url) },
      ));
      const row = await t.until('the tokens arriving', () => t.screen().find((l) => /impl .*receiving ~\d+ tok/.test(l)));
      expect(Number(/receiving ~(\d+) tok/.exec(row)![1])).to.be.greaterThan(0);
      t.keys('C-c');
      expect(await t.until('the exit status', () => t.exitStatus() ?? undefined)).to.equal(130);
    });
  }
});
