// e2e_ratio_vs_bare_sdk: an impl session of 150 sequential read_file calls
// against the fake Anthropic server (zero latency), run as `choragen
// agent:start` and as bench/bare-sdk-loop.js, both timed as whole processes
// (start-up and exit included). The bare loop sends choragen's own first
// request (system, tools, first message), so both hold the same conversation.
import { cpSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { distRoot } from '../runtime/paths.js';
import { cleanEnv } from '../spec/support/cli.js';
import { type FakeServer, startFakeAnthropic } from '../spec/support/fake-anthropic.js';
import type { Script } from '../runtime/providers/script/format.js';
import { makeBenchWorkspace, removeBenchWorkspace, smallSource } from './bench-broker.js';
import { CLI } from './help.js';
import { type ProcessRun, timeProcess } from './process.js';
import { median, round } from './stats.js';

const READS = 150;
const MESSAGE = `Read the ${READS} modules under packages/core/src one at a time, then summarize them.`;
const fileOf = (i: number) => `packages/core/src/mod-${String(i).padStart(3, '0')}.ts`;

function readScript(): Script {
  const usage = { input_tokens: 1000, output_tokens: 50 }; // fixed: the server does not estimate tokens per request
  const turns = Array.from({ length: READS }, (_, i) => ({
    content: [{ type: 'tool_use' as const, name: 'read_file', input: { path: fileOf(i) } }],
    usage,
  }));
  // `match`: every run's conversation (each opens with its own session id) replays this one session.
  return { sessions: [{ role: 'impl', match: MESSAGE, turns: [...turns, { content: [{ type: 'text', text: `Read ${READS} modules.` }], usage }] }] };
}

export interface E2eResult {
  e2e_ratio_vs_bare_sdk: number;
  choragen_ms: number;
  bare_sdk_ms: number;
  choragen_runs_ms: number[];
  bare_runs_ms: number[];
}

export async function benchE2e(runs = 3): Promise<E2eResult> {
  const files: Record<string, string> = {};
  for (let i = 0; i < READS; i++) files[fileOf(i)] = smallSource(40, `module ${i}`);
  const template = makeBenchWorkspace(files);
  const scratch = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-bench-e2e-')));
  const server: FakeServer = await startFakeAnthropic(readScript());
  const env = cleanEnv({ ANTHROPIC_API_KEY: 'bench-key', ANTHROPIC_BASE_URL: server.url });
  let runNo = 0;
  const freshWorkspace = () => {
    const ws = path.join(scratch, `ws-${runNo++}`);
    cpSync(template, ws, { recursive: true });
    return ws;
  };
  const expectConversation = (who: string, run: ProcessRun) => {
    const impl = server.requests.filter((r) => r.path === '/v1/messages');
    const errors = impl.filter((r) => r.status !== 200);
    if (run.code !== 0 || impl.length !== READS + 1 || errors.length > 0) {
      throw new Error(`${who} run failed: exit ${run.code}, ${impl.length} model requests (${errors.length} errors): ${run.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
  };
  const choragen = async (): Promise<ProcessRun> => {
    server.requests.length = 0;
    server.responses.length = 0;
    const ws = freshWorkspace();
    const run = await timeProcess(process.execPath, [CLI, 'agent:start', '--role', 'impl', '--message', MESSAGE, '--max-turns', String(READS + 10), '--workspace', ws], { env });
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
    for (let i = 0; i < runs; i++) {
      choragenMs.push((await choragen()).ms);
      bareMs.push((await bare()).ms);
    }
    // Each choragen run is paired with the bare run right after it (same load), and the pairs' median ratio is reported.
    const ratio = median(choragenMs.map((ms, i) => ms / bareMs[i]!));
    const c = median(choragenMs);
    const b = median(bareMs);
    return { e2e_ratio_vs_bare_sdk: ratio, choragen_ms: c, bare_sdk_ms: b, choragen_runs_ms: choragenMs.map((x) => round(x)), bare_runs_ms: bareMs.map((x) => round(x)) };
  } finally {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
    removeBenchWorkspace(template);
  }
}
