// What running a command through run_command costs beyond running it: the
// plan (one walk of the workspace), the listings of the writable areas before
// and after, bubblewrap's namespaces and mounts, and the check of the changes,
// for `true` in a small project under the policy `choragen init` writes
// (200 source files in src/, where impl may write; a node_modules of 2,000
// files, where it may not).
// Measured against spawning `true` directly. Not a goal of DESIGN.md §8: a
// figure to keep an eye on (a test run is seconds; this is added to each).
import { spawn } from 'node:child_process';
import { checkChanges } from '../capabilities/commands/changes.js';
import { planCommand } from '../capabilities/commands/plan.js';
import { defaultPathDirs, probeSandbox, runSandboxed, snapshotPlan } from '../capabilities/sandbox/index.js';
import { canonicalize, workspaceRoot } from '../policy/canonical.js';
import { writableBases } from '../policy/command-areas.js';
import { loadPolicy } from '../policy/load.js';
import { decideGuarded, policyRelPath } from '../policy/protected-paths.js';
import { makeBenchWorkspace, removeBenchWorkspace } from './bench-broker.js';
import { defaultPolicyYaml, suggestCommands } from '../policy/default-policy.js';
import { writeFileSync } from 'node:fs';
import { summarize } from './stats.js';

const RUNS = 30;

function bare(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}

export async function benchRunCommand(): Promise<{ run_command_overhead_ms_p50: number; sandboxed: ReturnType<typeof summarize>; bare: ReturnType<typeof summarize> }> {
  const verdict = await probeSandbox();
  if (!verdict.ok) throw new Error(verdict.reason);
  const files: Record<string, string> = {};
  for (let i = 0; i < 200; i++) files[`src/m${i}.ts`] = `export const v${i} = ${i};\n`;
  for (let i = 0; i < 2000; i++) files[`node_modules/p${i % 40}/f${i}.js`] = '';
  const ws = makeBenchWorkspace(files);
  writeFileSync(`${ws}/choragen.governance.yaml`, defaultPolicyYaml(suggestCommands({}, false)));
  try {
    const policy = await loadPolicy(`${ws}/choragen.governance.yaml`);
    const policyRel = policyRelPath(ws, policy.file);
    const decide = (action: Parameters<typeof decideGuarded>[3], rel: string) => decideGuarded(policy, policyRel, 'impl', action, rel);
    const root = await workspaceRoot(ws);
    const pathDirs = defaultPathDirs(root.abs);
    const resolve = (rel: string) => canonicalize(ws, rel);
    const sandboxed: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const planned = await planCommand({ root, cwd: root, argv: ['true'], pathDirs, writableBases: writableBases(policy, 'impl'), decide });
      if (!planned.ok) throw new Error(planned.reason);
      const { plan, links } = planned.value;
      const before = await snapshotPlan(root, plan);
      if (!before.ok) throw new Error(before.reason);
      const run = await runSandboxed(verdict.sandbox, plan);
      if (run.exitCode !== 0) throw new Error(`true exited ${run.exitCode} (${run.setupError})`);
      await checkChanges({ root, decide, before: before.snapshot, snapshot: () => snapshotPlan(root, plan), links, resolve });
      sandboxed.push(performance.now() - t0);
      const t1 = performance.now();
      await bare();
      direct.push(performance.now() - t1);
    }
    const s = summarize(sandboxed);
    const b = summarize(direct);
    return { run_command_overhead_ms_p50: s.p50 - b.p50, sandboxed: s, bare: b };
  } finally {
    removeBenchWorkspace(ws);
  }
}
