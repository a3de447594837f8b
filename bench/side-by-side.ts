// choragen against a bare @anthropic-ai/sdk script making the same calls,
// both timed as whole processes (start-up and exit included) against one fake
// Anthropic server in the bench process (zero latency). The bare script
// (bench/bare-sdk-loop.ts) sends choragen's own first request (system, tools,
// first message), copied from a warm-up run, so both hold the same
// conversation. Runs are interleaved, each choragen run paired with the bare
// run right after it (same load); the pairs' median ratio is reported.
import { cpSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { distRoot } from '../runtime/paths.js';
import { CLI, cleanEnv } from '../spec/support/cli.js';
import { type FakeServer, startFakeAnthropic } from '../spec/support/fake-anthropic.js';
import type { Script } from '../runtime/providers/script/format.js';
import { makeBenchWorkspace, removeBenchWorkspace } from './bench-broker.js';
import { type ProcessRun, timeProcess } from './process.js';
import { median, round } from './stats.js';

export interface SideBySideCase {
  /** What the fake server answers: one impl session. */
  script: Script;
  /** The session's first user message. */
  message: string;
  /** Workspace files (relative path -> content). */
  files: Record<string, string>;
  /** Model requests one run makes (a run with another count failed). */
  requests: number;
  runs: number;
}

export interface SideBySideResult {
  ratio: number;
  choragen_ms: number;
  bare_sdk_ms: number;
  choragen_runs_ms: number[];
  bare_runs_ms: number[];
}

export async function sideBySide(c: SideBySideCase): Promise<SideBySideResult> {
  const template = makeBenchWorkspace(c.files);
  const scratch = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-bench-e2e-')));
  const server: FakeServer = await startFakeAnthropic(c.script);
  const env = cleanEnv({ ANTHROPIC_API_KEY: 'bench-key', ANTHROPIC_BASE_URL: server.url });
  let runNo = 0;
  const freshWorkspace = () => {
    const ws = path.join(scratch, `ws-${runNo++}`);
    cpSync(template, ws, { recursive: true });
    return ws;
  };
  const expectConversation = (who: string, run: ProcessRun) => {
    const calls = server.requests.filter((r) => r.path === '/v1/messages');
    const errors = calls.filter((r) => r.status !== 200);
    if (run.code !== 0 || calls.length !== c.requests || errors.length > 0) {
      throw new Error(`${who} run failed: exit ${run.code}, ${calls.length} model requests (${errors.length} errors): ${run.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
  };
  const choragen = async (): Promise<ProcessRun> => {
    server.requests.length = 0;
    server.responses.length = 0;
    const ws = freshWorkspace();
    const run = await timeProcess(process.execPath, [CLI, 'agent:start', '--role', 'impl', '--message', c.message, '--max-turns', String(c.requests + 10), '--workspace', ws], { env });
    expectConversation('choragen', run);
    return run;
  };
  const conversationFile = path.join(scratch, 'conversation.json');
  const bare = async (): Promise<ProcessRun> => {
    server.requests.length = 0;
    server.responses.length = 0;
    const ws = freshWorkspace();
    const run = await timeProcess(process.execPath, [path.join(distRoot, 'bench', 'bare-sdk-loop.js'), '--base-url', server.url, '--conversation', conversationFile, '--workspace', ws], { env });
    expectConversation('bare SDK', run);
    return run;
  };
  try {
    await choragen(); // warm-up; its first request is the conversation the bare loop replays
    const first = server.requests[0]!.body;
    writeFileSync(conversationFile, JSON.stringify({ model: first.model, system: first.system, tools: first.tools, max_tokens: first.max_tokens, first: first.messages[0] }));
    await bare();
    const choragenMs: number[] = [];
    const bareMs: number[] = [];
    for (let i = 0; i < c.runs; i++) {
      choragenMs.push((await choragen()).ms);
      bareMs.push((await bare()).ms);
    }
    return {
      ratio: median(choragenMs.map((ms, i) => ms / bareMs[i]!)),
      choragen_ms: median(choragenMs),
      bare_sdk_ms: median(bareMs),
      choragen_runs_ms: choragenMs.map((x) => round(x)),
      bare_runs_ms: bareMs.map((x) => round(x)),
    };
  } finally {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
    removeBenchWorkspace(template);
  }
}
