// cache_billed_ratio and compactions_120_turns_60k: the 120-turn impl session
// of the long-session specs (spec/support/long-session.ts: one ~1,500-token
// file read per turn), run as `choragen agent:start` against the fake
// Anthropic server.
//   - cache_billed_ratio: the server bills like Anthropic's prompt cache; the
//     input the session was billed (cache writes at 1.25x, reads at 0.1x, the
//     rest at 1x) over what the same requests cost all uncached. Default window.
//   - compactions_120_turns_60k: the same session with --context-window 60000
//     against a server that refuses prompts over 60,000 tokens: how many
//     compactions it needs (it must finish, with no request over the limit).
import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, cleanEnv, jsonEvents, makeWorkspace, TEST_POLICY } from '../spec/support/cli.js';
import { startFakeAnthropic } from '../spec/support/fake-anthropic.js';
import { longSession } from '../spec/support/long-session.js';
import { timeProcess } from './process.js';

const READS = 120;
const WINDOW = 60_000;

export interface LongSessionResult {
  cache_billed_ratio: number;
  compactions_120_turns_60k: number;
  /** Prompt tokens the 120 requests held in all, and the largest prompt under the 60k window. */
  uncached_input_tokens: number;
  largest_prompt_60k: number;
  cache_hit_rate: number;
}

export async function benchLongSession(): Promise<LongSessionResult> {
  const long = longSession(READS);
  const template = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, ...long.files });
  const scratch = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-bench-long-')));
  let n = 0;
  const run = async (serverOpts: Parameters<typeof startFakeAnthropic>[1], flags: string[]) => {
    const ws = path.join(scratch, `ws-${n++}`);
    cpSync(template, ws, { recursive: true });
    const server = await startFakeAnthropic(long.script, serverOpts);
    try {
      const env = cleanEnv({ ANTHROPIC_API_KEY: 'bench-key', ANTHROPIC_BASE_URL: server.url });
      const args = [CLI, 'agent:start', '--role', 'impl', '--message', long.message, '--max-turns', String(READS + 10), '--json', '--workspace', ws, ...flags];
      const r = await timeProcess(process.execPath, args, { env });
      if (r.code !== 0 || server.responses.length !== long.turns || server.requests.some((q) => q.status !== 200)) {
        throw new Error(`the ${READS}-turn session failed: exit ${r.code}, ${server.responses.length} answers: ${r.stderr.trim().split('\n').slice(-1)[0]}`);
      }
      return { server, events: jsonEvents(r.stdout) };
    } finally {
      await server.close();
    }
  };
  try {
    const cached = await run({ cache: true }, []);
    const usage = cached.server.totalUsage();
    const prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    const small = await run({ cache: true, maxPromptTokens: WINDOW }, ['--context-window', String(WINDOW)]);
    if (small.server.largestPromptTokens > WINDOW) throw new Error(`a request of ${small.server.largestPromptTokens} tokens went over the ${WINDOW}-token window`);
    return {
      cache_billed_ratio: cached.server.billedInputRatio(),
      compactions_120_turns_60k: small.events.filter((e) => e.event === 'compaction').length,
      uncached_input_tokens: prompt,
      largest_prompt_60k: small.server.largestPromptTokens,
      cache_hit_rate: usage.cache_read_input_tokens / prompt,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(template, { recursive: true, force: true });
  }
}
