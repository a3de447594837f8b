// Does the sandbox work here? Runs bubblewrap once, with exactly the flags
// every command gets, on a throwaway workspace that has each kind of path a
// plan can hold (writable, read-only, hidden file, hidden directory), and
// checks from the outside that the command inside could write only where it
// was allowed. The verdict is cached per bwrap path: the broker asks at start
// and again for the manifest, and the answer does not change while it runs. A
// good verdict is also remembered on disk for a day (verdict-cache.ts).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  diagnose,
  missingBwrapReason,
  oneLine,
  unsupportedPlatformReason,
  type ProbeFacts,
} from './diagnosis.js';
import { TRUSTED_BWRAP_PATHS, containerKind, findBwrap, hostPathExists, readSysctl } from './host.js';
import { defaultPathDirs, type SandboxPlan } from './plan.js';
import { runUnder } from './run.js';
import { createProbeWorkspace, removeProbeWorkspace } from './scratch.js';
import { provenSandbox, type Sandbox } from './sandbox.js';
import { rememberVerdict, rememberedVersion, verdictKey } from './verdict-cache.js';

export type SandboxVerdict = { ok: true; sandbox: Sandbox } | { ok: false; reason: string };

export interface ProbeOptions {
  /** A bwrap to use instead of the one in a system directory (tests; an operator's explicit choice). */
  bwrapPath?: string;
  /** Probe again instead of returning the cached verdict (in memory, or remembered on disk). */
  fresh?: boolean;
}

/**
 * Inside the probe: write where allowed, fail to write where read-only, see
 * the hidden file empty and the hidden directory empty. Exit 0 only if all hold.
 */
const SELF_TEST =
  'echo ok > written && ! (echo x > protected/x) 2>/dev/null && ! test -s secret && ! test -e private/inner';

const verdicts = new Map<string, Promise<SandboxVerdict>>();

/** The cached verdict for this machine; never rejects. */
export function probeSandbox(options: ProbeOptions = {}): Promise<SandboxVerdict> {
  const key = options.bwrapPath ?? '';
  let verdict = verdicts.get(key);
  if (verdict === undefined || options.fresh === true) {
    verdict = runProbe(options.bwrapPath, options.fresh === true).catch(
      (err: unknown): SandboxVerdict => ({
        ok: false,
        reason: `the sandbox probe failed: ${oneLine(err instanceof Error ? err.message : String(err))}`,
      }),
    );
    verdicts.set(key, verdict);
  }
  return verdict;
}

async function runProbe(bwrapPath: string | undefined, fresh: boolean): Promise<SandboxVerdict> {
  if (process.platform !== 'linux') return { ok: false, reason: unsupportedPlatformReason(process.platform) };
  const candidates = bwrapPath === undefined ? TRUSTED_BWRAP_PATHS : [bwrapPath];
  const bwrap = await findBwrap(candidates);
  if (bwrap === null) return { ok: false, reason: missingBwrapReason(candidates) };
  const key = await verdictKey(bwrap);
  const remembered = key === null || fresh ? null : await rememberedVersion(key);
  if (remembered !== null) return { ok: true, sandbox: provenSandbox(bwrap, remembered) };
  const ws = await createProbeWorkspace();
  try {
    const plan: SandboxPlan = {
      workspace: ws.root,
      cwd: ws.root,
      argv: ['/bin/sh', '-c', SELF_TEST],
      writable: [ws.root],
      readOnly: [ws.protectedDir],
      hidden: [
        { path: ws.secret, kind: 'file' },
        { path: ws.privateDir, kind: 'dir' },
      ],
      pathDirs: defaultPathDirs(ws.root),
    };
    const [run, version] = await Promise.all([runUnder(bwrap, plan, { limits: { timeoutMs: 15_000, outputCapBytes: 4096 } }), bwrapVersion(bwrap)]);
    const written = await hostPathExists(ws.written);
    const leaked = await hostPathExists(ws.leaked);
    if (run.exitCode === 0 && written && !leaked && version !== null) {
      if (key !== null) await rememberVerdict(key, version);
      return { ok: true, sandbox: provenSandbox(bwrap, version) };
    }
    const message =
      run.setupError ??
      (run.stoppedBy !== null
        ? `the self-test was stopped (${run.stoppedBy})`
        : run.exitCode !== 0 || !written || leaked
          ? `the self-test found the sandbox did not confine writes as required (exit ${run.exitCode}: ${run.stderr.text})`
          : 'bwrap --version printed nothing');
    return { ok: false, reason: diagnose(await probeFacts(bwrap, version, message)) };
  } finally {
    await removeProbeWorkspace(ws);
  }
}

async function bwrapVersion(bwrap: string): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)(bwrap, ['--version'], { env: {}, timeout: 5_000 });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

async function probeFacts(bwrap: string, version: string | null, message: string): Promise<ProbeFacts> {
  const sysctl: ProbeFacts['sysctl'] = {};
  const apparmor = await readSysctl('kernel/apparmor_restrict_unprivileged_userns');
  const clone = await readSysctl('kernel/unprivileged_userns_clone');
  const max = await readSysctl('user/max_user_namespaces');
  if (apparmor !== undefined) sysctl.apparmorRestrictUnprivilegedUserns = apparmor;
  if (clone !== undefined) sysctl.unprivilegedUsernsClone = clone;
  if (max !== undefined) sysctl.maxUserNamespaces = max;
  return { platform: process.platform, bwrap, version, message, sysctl, container: await containerKind() };
}
