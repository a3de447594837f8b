// Shared set-up for the sandbox specs: the real bubblewrap (required in CI,
// skipped with a message elsewhere), throwaway workspaces, plans.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPathDirs, probeSandbox, type Sandbox, type SandboxPlan } from '../../../capabilities/sandbox/index.js';

/**
 * The sandbox of this machine. Without one, CI fails loudly (the sandbox is
 * the point of these specs) and a developer's machine skips with the reason.
 */
export async function requireSandbox(ctx: Mocha.Context): Promise<Sandbox> {
  const verdict = await probeSandbox();
  if (verdict.ok) return verdict.sandbox;
  // CI runners set CI; .ci/run sets CHORAGEN_REQUIRE_SANDBOX (setting CI itself would change Node's colour depth).
  if (process.env['CI'] || process.env['CHORAGEN_REQUIRE_SANDBOX']) throw new Error(`the sandbox specs need bubblewrap in CI: ${verdict.reason}`);
  console.warn(`      skipped: ${verdict.reason}`);
  ctx.skip();
}

/** A real-path temp directory holding `files` (path → content; a trailing `/` makes a directory). */
export function tempWorkspace(files: Record<string, string> = {}, base = os.tmpdir()): string {
  const ws = fs.realpathSync(fs.mkdtempSync(path.join(base, 'choragen-sandbox-spec-')));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(ws, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(abs, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, content);
    }
  }
  return ws;
}

export function removeWorkspace(ws: string | undefined): void {
  if (ws !== undefined) fs.rmSync(ws, { recursive: true, force: true });
}

/** A plan for `argv` in `ws`, nothing writable unless given. */
export function planFor(ws: string, argv: string[], fields: Partial<SandboxPlan> = {}): SandboxPlan {
  return {
    workspace: ws,
    cwd: ws,
    argv,
    writable: [],
    readOnly: [],
    hidden: [],
    pathDirs: defaultPathDirs(ws),
    ...fields,
  };
}

/** Host pids of live processes whose command line contains every one of `words`. */
export function hostPidsRunning(words: string[]): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (words.every((w) => argv.includes(w))) pids.push(Number(name));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}

/** True while `pid` exists and is not a zombie. */
export function hostProcessAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}
