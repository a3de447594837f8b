// help_ms: `choragen --help` as a whole process (node start-up included): the
// bundle's entry, clipanion and every command's class, nothing a command
// loads when it runs. `node -e 0` is timed alongside so the figure can be read
// against the bare start-up of Node.
import { CLI } from '../spec/support/cli.js';
import { timeProcess } from './process.js';
import { median } from './stats.js';

export interface HelpResult { help_ms: number; node_startup_ms: number }

export async function benchHelp(runs = 11): Promise<HelpResult> {
  const help: number[] = [];
  const bare: number[] = [];
  await timeProcess(process.execPath, [CLI, '--help']); // file cache warm-up
  for (let i = 0; i < runs; i++) {
    const run = await timeProcess(process.execPath, [CLI, '--help']);
    if (run.code !== 0 || !run.stdout.includes('agent:start')) throw new Error(`choragen --help failed (exit ${run.code}): ${run.stderr.split('\n')[0]}`);
    help.push(run.ms);
    bare.push((await timeProcess(process.execPath, ['-e', '0'])).ms);
  }
  return { help_ms: median(help), node_startup_ms: median(bare) };
}
