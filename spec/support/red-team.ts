// Shared tools of the specs that attack through the real CLI: the disk before
// and after, secrets that must never show, and a run interrupted with SIGINT
// while a hostile tool call is in flight. What the model was sent back and
// what was audited: run-records.ts.
import { expect } from 'chai';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { type CliResult, runCli } from './cli.js';

/**
 * Every entry below `dir`: type, content or link target, for "nothing on disk
 * changed" assertions. `ws/.choragen` (the broker's records) is left out.
 */
export function snapshot(dir: string, out: Record<string, string> = {}, rel = ''): Record<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (r === 'ws/.choragen') continue;
    const abs = path.join(dir, name);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      out[r] = 'dir';
      snapshot(abs, out, r);
    } else out[r] = `file ${st.mode.toString(8)} ${readFileSync(abs).toString('base64')}`;
  }
  return out;
}

export function expectNoSecret(secrets: Record<string, string>, where: string, text: string): void {
  for (const [name, secret] of Object.entries(secrets)) {
    expect(text.includes(secret), `${name} secret appears in ${where}`).to.equal(false);
  }
}

export interface InterruptedRun extends CliResult {
  /** ms from SIGINT to the process's exit; Infinity when it had to be killed */
  exitMs: number;
}

/**
 * Run the CLI and send it SIGINT `afterMs` after the first stdout line that
 * `trigger` accepts (a --json event line). A process still alive
 * `killAfterMs` after the SIGINT is killed, so a frozen broker fails the spec
 * instead of hanging it.
 */
export async function interruptDuring(
  args: string[],
  env: Record<string, string>,
  trigger: (event: any) => boolean,
  { afterMs = 300, killAfterMs = 5000 } = {},
): Promise<InterruptedRun> {
  let sentAt = 0;
  let killed = false;
  let killer: NodeJS.Timeout | undefined;
  const r = await runCli(args, {
    env,
    onSpawn(child) {
      let buffered = '';
      let armed = false;
      child.stdout!.on('data', (chunk: Buffer | string) => {
        if (armed) return;
        buffered += chunk.toString();
        for (const line of buffered.split('\n').slice(0, -1)) {
          let event: any;
          try {
            event = JSON.parse(line);
          } catch {
            continue;
          }
          if (!trigger(event)) continue;
          armed = true;
          setTimeout(() => {
            sentAt = performance.now();
            child.kill('SIGINT');
            killer = setTimeout(() => {
              killed = true;
              child.kill('SIGKILL');
            }, killAfterMs);
          }, afterMs);
          return;
        }
      });
      child.on('close', () => clearTimeout(killer));
    },
  });
  const exitMs = killed || sentAt === 0 ? Infinity : performance.now() - sentAt;
  return { ...r, exitMs };
}
