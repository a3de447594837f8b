// What every tool call's context is made from: the broker's shared services
// (ContextDeps), the record of what one call decided (DecisionTrail), and the
// broker's decision for a path.
import type { BrokerServices, ToolLimits } from '../../capabilities/capability.js';
import type { SandboxVerdict } from '../../capabilities/sandbox/index.js';
import type { Action, CompiledPolicy, Decision } from '../../policy/types.js';
import type { ToolDecision } from '../audit/events.js';
import type { LiveSession } from './live-session.js';
import type { ApprovalAnswer, Approver } from './approver.js';
import type { WriteRegistry } from './write-locks.js';
import { decideGuarded, policyRelPath } from '../../policy/protected-paths.js';
import { workspaceFoldsCase } from '../../policy/case-folding.js';

export interface ContextDeps {
  workspace: string;
  policy: CompiledPolicy;
  limits: ToolLimits;
  approver: Approver;
  writes: WriteRegistry;
  requireApproval: boolean;
  onApproval(session: LiveSession, tool: string, path: string, rule: string, answer: ApprovalAnswer['answer'], by: ApprovalAnswer['by']): void;
  services(session: LiveSession): BrokerServices;
  /** The command sandbox's verdict (probeSandbox: cached, never rejects). */
  sandbox(): Promise<SandboxVerdict>;
}

/** What one tool call decided, for its audit line. */
export class DecisionTrail {
  decision: ToolDecision = 'allow';
  rule: string | null = null;
  readonly paths: string[] = [];
  /** How `paths` are joined in the audit line: `a -> b` for a move, a list for a command's refused changes. */
  pathSeparator = ' -> ';
  /** run_command: the argv, shell-quoted on one line, and how it ended. */
  command: string | null = null;
  exitCode: number | null = null;

  note(rel: string | null, d: Decision, outcome: ToolDecision): void {
    if (rel !== null) this.paths.push(rel);
    // The weakest link names the call: a refusal beats an approval beats an allow.
    const rank: Record<ToolDecision, number> = { allow: 0, approved: 1, invalid: 2, rejected: 3, deny: 4 };
    if (rank[outcome] >= rank[this.decision]) {
      this.decision = outcome;
      this.rule = d.rule;
    }
  }
}

const policyRels = new WeakMap<ContextDeps, string | null>();

/**
 * The policy's decision, unless the path is one no session may touch
 * (policy/protected-paths.ts); on a case-folding workspace, made on the folded path.
 */
export function decide(deps: ContextDeps, role: LiveSession['identity']['role'], action: Action, rel: string): Decision {
  let policyRel = policyRels.get(deps);
  if (policyRel === undefined) policyRels.set(deps, (policyRel = policyRelPath(deps.workspace, deps.policy.file)));
  return decideGuarded(deps.policy, policyRel, role, action, rel, workspaceFoldsCase(deps.workspace));
}

