// The fixture of the specs that run the CLI against a fake model server (the
// Anthropic one, or the OpenAI-compatible one): the test makes a workspace
// (the test policy plus its files) and starts a server; both are removed after
// each test. Call inside describe().
import type { Script } from '../../runtime/providers/script/format.js';
import { type FakeServer, type FakeServerOptions, startFakeAnthropic } from './fake-anthropic.js';
import { type FakeOpenAI, type FakeOpenAIOptions, startFakeOpenAI } from './fake-openai.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace } from './cli.js';

export interface FakeRun<S extends { url: string } = FakeServer, O = FakeServerOptions> {
  /** The server serve() started for this test. */
  server: S | undefined;
  /** Starts the fake server for this test, closed after it. */
  serve(script: Script, opts?: O): Promise<S>;
  /** The workspace workspace() made for this test. */
  ws: string;
  /** A fresh workspace with the test policy and `files` (in place of one made before), removed after the test. */
  workspace(files?: Record<string, string>): string;
  /** The environment that points the CLI at the server. */
  env(): Record<string, string>;
}

/** Runs against the fake Anthropic server (the default provider). */
export function useFakeRun(): FakeRun<FakeServer, FakeServerOptions> {
  return useFake(startFakeAnthropic, (s) => ({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: s.url }));
}

/** Runs against the fake OpenAI-compatible server: give the CLI `--provider openai`. */
export function useFakeOpenAIRun(): FakeRun<FakeOpenAI, FakeOpenAIOptions> {
  return useFake(startFakeOpenAI, (s) => ({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: s.url }));
}

function useFake<S extends { url: string; close(): Promise<void> }, O>(
  start: (script: Script, opts?: O) => Promise<S>,
  envOf: (server: S) => Record<string, string>,
): FakeRun<S, O> {
  const run: FakeRun<S, O> = {
    server: undefined,
    ws: '',
    serve: async (script, opts) => (run.server = await start(script, opts)),
    workspace: (files = {}) => {
      if (run.ws) removeWorkspace(run.ws); // a test may start over in a workspace of its own
      return (run.ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, ...files }));
    },
    env: () => envOf(run.server!),
  };
  afterEach(async () => {
    await run.server?.close();
    run.server = undefined;
    if (run.ws) removeWorkspace(run.ws);
    run.ws = '';
  });
  return run;
}
