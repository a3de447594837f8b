// startup_ratio_vs_bare_sdk: a 1-turn impl session (one model call answered
// with text, no tool call) run as `choragen agent:start` and as
// bench/bare-sdk-loop.js side by side (bench/side-by-side.ts). With one call
// the ratio is almost all start-up and exit: loading the CLI, the policy, the
// worker pool and its sandboxed threads, the audit log, the transcript.
import type { Script } from '../runtime/providers/script/format.js';
import { type SideBySideResult, sideBySide } from './side-by-side.js';

const SCRIPT: Script = {
  sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'Nothing to change.' }], usage: { input_tokens: 1000, output_tokens: 20 } }] }],
};

export async function benchStartup(runs = 9): Promise<SideBySideResult> {
  return sideBySide({ script: SCRIPT, message: 'Say whether src/ needs any change.', files: { 'src/index.ts': 'export {};\n' }, requests: 1, runs });
}
