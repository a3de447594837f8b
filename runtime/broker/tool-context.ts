// The ToolContext a capability runs with: bound to one session and one tool
// call. Every path goes through canonicalize -> policy -> (approval) here, and
// the decisions are kept for that call's audit line.
import type { BigIntStats } from 'node:fs';
import type { AuthorizedPath, CommandServices, ToolContext } from '../../capabilities/capability.js';
import type { Action } from '../../policy/types.js';
import { canonicalize, workspaceRoot } from '../../policy/canonical.js';
import { ToolRefusal } from '../../policy/errors.js';
import type { LiveSession } from './live-session.js';
import { refusalText } from '../../policy/refusal-text.js';
import { createCommandServices } from './command-services.js';
import { type ContextDeps, DecisionTrail, decide } from './context-deps.js';

export { type ContextDeps, DecisionTrail } from './context-deps.js';

export function createToolContext(deps: ContextDeps, session: LiveSession, tool: string, trail: DecisionTrail, signal: AbortSignal): ToolContext {
  const { identity } = session;
  let commands: CommandServices | undefined;
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

    root: () => workspaceRoot(deps.workspace),

    resolve: (input: string) => canonicalize(deps.workspace, input),

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

    get commands(): CommandServices {
      return (commands ??= createCommandServices(deps, session, tool, trail, signal));
    },
  };
}
