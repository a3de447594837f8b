// e2e_ratio_vs_bare_sdk: an impl session of 150 sequential read_file calls,
// run as `choragen agent:start` and as bench/bare-sdk-loop.js side by side
// (bench/side-by-side.ts).
import type { Script } from '../runtime/providers/script/format.js';
import { smallSource } from './bench-broker.js';
import { type SideBySideResult, sideBySide } from './side-by-side.js';

const READS = 150;
const MESSAGE = `Read the ${READS} modules under packages/core/src one at a time, then summarize them.`;
const fileOf = (i: number) => `packages/core/src/mod-${String(i).padStart(3, '0')}.ts`;

function readScript(): Script {
  const usage = { input_tokens: 1000, output_tokens: 50 }; // fixed: the server does not estimate tokens per request
  const turns = Array.from({ length: READS }, (_, i) => ({
    content: [{ type: 'tool_use' as const, name: 'read_file', input: { path: fileOf(i) } }],
    usage,
  }));
  return { sessions: [{ role: 'impl', turns: [...turns, { content: [{ type: 'text', text: `Read ${READS} modules.` }], usage }] }] };
}

export async function benchE2e(runs = 3): Promise<SideBySideResult> {
  const files: Record<string, string> = {};
  for (let i = 0; i < READS; i++) files[fileOf(i)] = smallSource(40, `module ${i}`);
  return sideBySide({ script: readScript(), message: MESSAGE, files, requests: READS + 1, runs });
}
