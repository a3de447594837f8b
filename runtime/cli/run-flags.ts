// The flags agent:start and agent:resume share (DESIGN.md §6), said once so
// their help cannot drift apart, and the run settings they make. Each flag is
// a factory, as workspaceOption() is, so each command declares its options in
// its own order. Only clipanion is imported at load (the settings type is erased).
import { Option } from 'clipanion';
import type { RunSettings } from '../run/setup.js';
import { workspaceOption } from './base.js';

export const runFlags = {
  script: () => Option.String('--script', { description: 'Scripted conversation file for --provider script (JSON or YAML)' }),
  maxTokens: () => Option.String('--max-tokens', { description: 'Token budget for the whole session tree' }),
  maxCost: () => Option.String('--max-cost', { description: 'Cost budget in USD for the whole session tree' }),
  maxDepth: () => Option.String('--max-depth', { description: 'Deepest spawn allowed (root is 0; default: the policy\'s, 2)' }),
  maxParallel: () => Option.String('--max-parallel', { description: 'Child sessions running at once per tree (default: the policy\'s, 4)' }),
  maxTurns: () => Option.String('--max-turns', { description: 'Model turns per session before it is stopped (default 100)' }),
  maxRetries: () => Option.String('--max-retries', { description: 'Retries of a failing model call (429/529/5xx, a dropped or stalled connection, an error in the middle of an answer, a reply that is not a message; default 4)' }),
  sessionTimeout: () => Option.String('--session-timeout', { description: 'Wall-clock limit per session, e.g. 10m' }),
  contextWindow: () => Option.String('--context-window', { description: 'Tokens the model\'s context window holds (default: the model\'s, from choragen\'s table; 32,000 for a model it does not know). The conversation is compacted before a request would not fit' }),
  requestTimeout: () => Option.String('--request-timeout', { description: 'Seconds to wait for the model endpoint\'s first streamed event and between two (default 120); past it the call is retried' }),
  workerMemoryMb: () => Option.String('--worker-memory-mb', { description: 'Heap limit of a session worker in MB (default 512)' }),
  requireApproval: () => Option.Boolean('--require-approval', false, { description: 'Every mutation needs a human yes on the terminal' }),
  autoApprove: () => Option.Boolean('--auto-approve', false, { description: 'Answer yes to every approval (recorded as auto-approve)' }),
  json: () => Option.Boolean('--json', false, { description: 'Print one JSON event per line on stdout instead of the live view' }),
  recordCommits: () => Option.Boolean('--record-commits', true, { description: 'Commit each session\'s files to refs/choragen/sessions/<id> (git workspaces; --no-record-commits to skip)' }),
  unsafeNoSandbox: () => Option.Boolean('--unsafe-no-sandbox', false, { description: 'Run sessions without Node\'s permission model (loud; audited)' }),
  policy: () => Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' }),
  workspace: workspaceOption,
};

/** What a command declared from runFlags holds once parsed. */
export type RunFlagValues = { [K in keyof typeof runFlags]: ReturnType<(typeof runFlags)[K]> };

/** The settings those flags make; the command adds workspace, provider and model as it resolves them. */
export function runSettings(flags: Omit<RunFlagValues, 'json' | 'workspace'>): Omit<RunSettings, 'workspace' | 'provider' | 'model'> {
  return {
    policyFile: flags.policy, script: flags.script,
    maxTokens: flags.maxTokens, maxCost: flags.maxCost, maxDepth: flags.maxDepth, maxParallel: flags.maxParallel,
    maxTurns: flags.maxTurns, maxRetries: flags.maxRetries, sessionTimeout: flags.sessionTimeout,
    contextWindow: flags.contextWindow, requestTimeout: flags.requestTimeout, workerMemoryMb: flags.workerMemoryMb,
    autoApprove: flags.autoApprove, requireApproval: flags.requireApproval, unsafeNoSandbox: flags.unsafeNoSandbox,
    recordCommits: flags.recordCommits, interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, argv: process.argv.slice(2),
  };
}
