// The broker's side of run_command, bound to one session and one tool call:
// the decision on the argv (built-in guard, then the policy's `commands`
// rules, then the sandbox's probe, then a human for `approve`), the
// workspace lock, and the record of what the command changed.
import path from 'node:path';
import type { AuthorizedPath, CommandServices } from '../../capabilities/capability.js';
import { quoteCommand } from '../../policy/command-line.js';
import { guardCommand, type ProgramFacts } from '../../policy/command-guard.js';
import { writableBases } from '../../policy/command-areas.js';
import { ToolRefusal } from '../../policy/errors.js';
import { commandRefusalText } from '../../policy/refusal-text.js';
import type { Decision, Role } from '../../policy/types.js';
import type { LiveSession } from './live-session.js';
import { type ContextDeps, DecisionTrail, decide } from './context-deps.js';

const bases = new WeakMap<ContextDeps, Map<Role, readonly string[]>>();

function basesFor(deps: ContextDeps, role: Role): readonly string[] {
  let byRole = bases.get(deps);
  if (!byRole) bases.set(deps, (byRole = new Map()));
  let found = byRole.get(role);
  if (!found) byRole.set(role, (found = Object.freeze(writableBases(deps.policy, role))));
  return found;
}

export function createCommandServices(deps: ContextDeps, session: LiveSession, tool: string, trail: DecisionTrail, signal: AbortSignal): CommandServices {
  const { identity } = session;
  const role = identity.role;
  let refusedAny = false;
  return {
    async authorize(argv: readonly string[], program: ProgramFacts, cwd: AuthorizedPath) {
      const line = quoteCommand(argv);
      trail.command = line;
      let d = guardCommand(argv, program) ?? deps.policy.decideCommand(role, argv);
      if (deps.requireApproval && d.decision === 'allow') {
        d = { decision: 'approve', rule: '--require-approval', reason: 'every command and change needs approval in this run' };
      }
      if (d.decision === 'deny') {
        trail.note(null, d, 'deny');
        throw new ToolRefusal(commandRefusalText(deps.policy, role, argv, d), 'deny', d.rule, cwd.rel);
      }
      // Asked before a human is: no one is asked about a command that cannot run here.
      const verdict = await deps.sandbox();
      if (!verdict.ok) {
        trail.note(null, { decision: 'deny', rule: 'sandbox', reason: verdict.reason }, 'deny');
        throw new ToolRefusal(verdict.reason, 'deny', 'sandbox', cwd.rel);
      }
      if (d.decision === 'approve') {
        const { answer, by } = await deps.approver.ask(
          {
            sessionLabel: `${identity.role} ${identity.id}`,
            tool,
            path: line,
            reason: d.reason,
            rule: d.rule,
            preview: async () => `$ ${line}\n   in ${cwd.rel === '.' ? 'the workspace root' : cwd.rel}, inside the sandbox (writes only where ${role} may change files)\n`,
          },
          signal,
        );
        deps.onApproval(session, tool, line, d.rule, answer, by);
        if (answer !== 'yes') {
          trail.note(null, d, 'rejected');
          throw new ToolRefusal(`not approved: running ${line} needs a human's approval (rule ${d.rule}: ${d.reason}); the answer was no (${by})`, 'rejected', d.rule, cwd.rel);
        }
        trail.note(null, d, 'approved');
      } else {
        trail.note(null, d, 'allow');
      }
      return verdict.sandbox;
    },

    decide: (action, rel) => decide(deps, role, action, rel),

    get writableBases() {
      return basesFor(deps, role);
    },

    timeoutLimitS: deps.policy.limits.command_timeout_s,

    exclusive: (effect) => deps.writes.exclusive(effect),

    refused(rel: string, d: Decision) {
      // The audit line names the changes that did not stand, rather than the working directory.
      if (!refusedAny) {
        refusedAny = true;
        trail.paths.length = 0;
        trail.pathSeparator = ', ';
      }
      trail.note(rel, d, 'deny');
    },

    async changed(rels) {
      for (const rel of rels) {
        session.filesChanged.add(rel);
        await deps.writes.changedBy(identity.id, path.join(deps.workspace, ...rel.split('/')));
      }
    },

    record(fields) {
      if (fields.command !== undefined) trail.command = fields.command;
      if (fields.exitCode !== undefined) trail.exitCode = fields.exitCode;
    },
  };
}
