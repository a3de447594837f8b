// The ToolContext a capability runs with: bound to one session and one tool
// call. Every path goes through canonicalize -> policy -> (approval) here, and
// the decisions are kept for that call's audit line.
import type { BigIntStats } from 'node:fs';
import type { AuthorizedPath, BrokerServices, ToolContext, ToolLimits } from '../../capabilities/capability.js';
import type { Action, CompiledPolicy, Decision } from '../../policy/types.js';
import { canonicalize } from '../../policy/canonical.js';
import type { ToolDecision } from '../audit/events.js';
import { ToolRefusal } from '../../policy/errors.js';
import type { LiveSession } from './live-session.js';
import type { Approver } from './approver.js';
import type { WriteRegistry } from './write-locks.js';
import { refusalText } from '../../policy/refusal-text.js';
import { decideGuarded, policyRelPath } from '../../policy/protected-paths.js';
import { workspaceFoldsCase } from '../../policy/case-folding.js';

export interface ContextDeps {
  workspace: string;
  policy: CompiledPolicy;
  limits: ToolLimits;
  approver: Approver;
  writes: WriteRegistry;
  requireApproval: boolean;
  onApproval(session: LiveSession, tool: string, path: string, rule: string, answer: 'yes' | 'no', by: string): void;
  services(session: LiveSession): BrokerServices;
}

/** What one tool call decided, for its audit line. */
export class DecisionTrail {
  decision: ToolDecision = 'allow';
  rule: string | null = null;
  readonly paths: string[] = [];

  note(rel: string, d: Decision, outcome: ToolDecision): void {
    this.paths.push(rel);
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
function decide(deps: ContextDeps, role: LiveSession['identity']['role'], action: Action, rel: string): Decision {
  let policyRel = policyRels.get(deps);
  if (policyRel === undefined) policyRels.set(deps, (policyRel = policyRelPath(deps.workspace, deps.policy.file)));
  return decideGuarded(deps.policy, policyRel, role, action, rel, workspaceFoldsCase(deps.workspace));
}

export function createToolContext(deps: ContextDeps, session: LiveSession, tool: string, trail: DecisionTrail, signal: AbortSignal): ToolContext {
  const { identity } = session;
  return {
    session: identity,
    workspace: deps.workspace,
    limits: deps.limits,
    signal,
    broker: deps.services(session),

    async authorize(input: string, action: Action | 'write', preview?: (target: AuthorizedPath) => Promise<string>): Promise<AuthorizedPath> {
      const target = await canonicalize(deps.workspace, input);
      const act: Action = action === 'write' ? (target.exists ? 'modify' : 'create') : action;
      let d = decide(deps, identity.role, act, target.rel);
      if (deps.requireApproval && act !== 'read' && d.decision === 'allow') {
        d = { decision: 'approve', rule: '--require-approval', reason: 'every mutation needs approval in this run' };
      }
      if (d.decision === 'deny') {
        trail.note(target.rel, d, 'deny');
        throw new ToolRefusal(refusalText(deps.policy, identity.role, act, target.rel, d), 'deny', d.rule, target.rel);
      }
      if (d.decision === 'approve') {
        const { answer, by } = await deps.approver.ask(
          { sessionLabel: `${identity.role} ${identity.id}`, tool, path: target.rel, reason: d.reason, rule: d.rule, preview: preview && (() => preview(target)) },
          signal,
        );
        deps.onApproval(session, tool, target.rel, d.rule, answer, by);
        if (answer !== 'yes') {
          trail.note(target.rel, d, 'rejected');
          throw new ToolRefusal(`not approved: ${act} of ${target.rel} needs a human's approval (rule ${d.rule}: ${d.reason}); the answer was no (${by})`, 'rejected', d.rule, target.rel);
        }
        trail.note(target.rel, d, 'approved');
        return target;
      }
      trail.note(target.rel, d, 'allow');
      return target;
    },

    canRead(rel: string): boolean {
      return decide(deps, identity.role, 'read', rel).decision !== 'deny';
    },

    mutate<T>(target: AuthorizedPath, effect: () => Promise<T>): Promise<T> {
      return deps.writes.write(identity.id, session.startedMs, target.rel, target.abs, async () => {
        const result = await effect();
        session.filesChanged.add(target.rel);
        return result;
      });
    },

    observed(target: AuthorizedPath, stats?: BigIntStats): Promise<void> {
      return deps.writes.observe(identity.id, target.abs, stats);
    },
  };
}
