// The OS sandbox under run_command (docs/sandbox.md): probe once, derive a
// plan from the policy, run, then check and undo what the command changed.
//
//   const verdict = await probeSandbox();           // cached; never falls back
//   if (!verdict.ok) refuse(verdict.reason);        // one line with the fix
//   const before = await snapshotPlan(root, plan);  // { ok, snapshot } or { ok: false, reason }
//   const run = await runSandboxed(verdict.sandbox, plan, { limits, signal });
//   const after = await snapshotPlan(root, plan);
//   const diff = diffSnapshots(before.snapshot, after.snapshot);
//   // each diff path → policy; a disallowed created path → fs/authority removeTree()
//
// Run one command per workspace at a time, under the workspace's mutation
// lock from the first snapshot to the last removal (docs/sandbox.md).

export { probeSandbox, type ProbeOptions, type SandboxVerdict } from './probe.js';
export type { Sandbox } from './sandbox.js';
export {
  SANDBOX_HOME,
  SANDBOX_TMPDIR,
  SYSTEM_PATH_DIRS,
  SandboxPlanError,
  defaultPathDirs,
  type HiddenPath,
  type SandboxPlan,
} from './plan.js';
export { HOST_HIDDEN_DIRS, HOST_SECRET_PATHS, HOST_SYSTEM_DIRS } from './host.js';
export { cgroupStatus } from './cgroup.js';
export {
  DEFAULT_SANDBOX_LIMITS,
  runSandboxed,
  type RunOptions,
  type SandboxLimits,
  type SandboxRun,
  type StopReason,
} from './run.js';
export { cutNotes, type CapturedOutput } from './output-tail.js';
export {
  DEFAULT_SNAPSHOT_MAX_ENTRIES,
  diffSnapshots,
  snapshotAreas,
  snapshotPlan,
  type Snapshot,
  type SnapshotDiff,
  type SnapshotEntry,
  type SnapshotResult,
} from './snapshot.js';
