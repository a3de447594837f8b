// Node's permission model for session workers. The flag is `--permission` on
// Node >= 22 and `--experimental-permission` on 20; we detect which one this
// Node accepts instead of parsing version numbers.
import path from 'node:path';
import { createRequire } from 'node:module';
import { codeRoot } from '../paths.js';

export type SandboxKind = 'permission' | 'experimental-permission' | 'none';

export function detectSandbox(): SandboxKind {
  const flags = process.allowedNodeEnvironmentFlags;
  if (flags.has('--permission')) return 'permission';
  if (flags.has('--experimental-permission')) return 'experimental-permission';
  return 'none';
}

/** Folders a worker may read: the code we run from (the bundle, or tsc's dist/) and piscina's (its thread entry). */
export function workerReadablePaths(): string[] {
  const require = createRequire(import.meta.url);
  const piscinaDir = path.dirname(require.resolve('piscina'));
  return [codeRoot, piscinaDir];
}

/**
 * execArgv for a session worker: read-only access to the installed code, no
 * writes, no child processes, no workers. Empty when running unsandboxed.
 */
export function workerExecArgv(kind: SandboxKind): string[] {
  if (kind === 'none') return [];
  return [
    `--${kind}`,
    ...workerReadablePaths().map((dir) => `--allow-fs-read=${path.join(dir, '*')}`),
    '--no-warnings=ExperimentalWarning',
  ];
}
