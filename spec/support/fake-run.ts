// The fixture of the specs that run the CLI against the fake Anthropic
// server: the test makes a workspace (the test policy plus its files) and
// starts a server; both are removed after each test. Call inside describe().
import type { Script } from '../../runtime/providers/script/format.js';
import { type FakeServer, type FakeServerOptions, startFakeAnthropic } from './fake-anthropic.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace } from './cli.js';

export interface FakeRun {
  /** The server serve() started for this test. */
  server: FakeServer | undefined;
  /** Starts the fake Anthropic server for this test, closed after it. */
  serve(script: Script, opts?: FakeServerOptions): Promise<FakeServer>;
  /** The workspace workspace() made for this test. */
  ws: string;
  /** A fresh workspace with the test policy and `files`, removed after the test. */
  workspace(files?: Record<string, string>): string;
  /** The environment that points the CLI at the server. */
  env(): Record<string, string>;
}

export function useFakeRun(): FakeRun {
  const run: FakeRun = {
    server: undefined,
    ws: '',
    serve: async (script, opts) => (run.server = await startFakeAnthropic(script, opts)),
    workspace: (files = {}) => (run.ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, ...files })),
    env: () => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: run.server!.url }),
  };
  afterEach(async () => {
    await run.server?.close();
    run.server = undefined;
    if (run.ws) removeWorkspace(run.ws);
    run.ws = '';
  });
  return run;
}
