// `choragen policy:check`: what the policy decides for one role, action and
// path, and which rule decides it. The path goes through the same
// canonicalization as a tool call, so the answer is the broker's answer.
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { ToolRefusal, UsageError } from '../../policy/errors.js';
import { MUTATION_ACTIONS, ROLES, type Action, type Decision, type Role } from '../../policy/types.js';

const ACTIONS: readonly Action[] = [...MUTATION_ACTIONS, 'read'];

export class PolicyCheckCommand extends ChoragenCommand {
  static override paths = [['policy:check']];
  static override usage = Command.Usage({
    category: 'Policy',
    description: 'Show what the governance policy decides for a role, an action and a path',
    details: `
      Prints the decision (allow, approve or deny), the rule that decided it
      (e.g. \`roles.impl.deny[0]\`, \`mutations.deny[2]\`, \`default\`) and its reason.
      The path is canonicalized like a tool call's: relative to the workspace,
      symlinks resolved; a path outside the workspace is denied by rule \`path\`.
      Actions: create, modify, delete, move, read. The exit code is 0 whatever the decision.
    `,
    examples: [
      ['Can impl modify a source file?', '$0 policy:check --role impl --action modify src/index.ts'],
      ['Machine-readable answer', '$0 policy:check --role control --action move docs/tasks/todo/CHAIN-001/001-setup.md --json'],
      ['Check against another policy file', '$0 policy:check --role impl --action read .env --policy strict.governance.yaml'],
    ],
  });

  role = Option.String('--role', { required: true, description: 'Session role: control or impl' });
  action = Option.String('--action', { required: true, description: 'create, modify, delete, move or read' });
  policyFile = Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' });
  workspace = workspaceOption();
  json = Option.Boolean('--json', false, { description: 'Print {"decision","rule","reason","path"} as JSON' });
  target = Option.String({ name: 'PATH' });

  async run(): Promise<number> {
    if (!(ROLES as readonly string[]).includes(this.role)) {
      throw new UsageError(`unknown role "${this.role}" (expected ${ROLES.join(', ')})`);
    }
    if (!(ACTIONS as readonly string[]).includes(this.action)) {
      throw new UsageError(`unknown action "${this.action}" (expected ${ACTIONS.join(', ')})`);
    }
    const role = this.role as Role;
    const action = this.action as Action;
    const workspace = resolveWorkspace(this.workspace);

    const { loadPolicy } = await import('../../policy/load.js');
    const { canonicalize } = await import('../../policy/canonical.js');
    const { decideGuarded, policyRelPath } = await import('../../policy/protected-paths.js');
    const { workspaceFoldsCase } = await import('../../policy/case-folding.js');
    const policy = await loadPolicy(this.policyFile ? path.resolve(this.policyFile) : path.join(workspace, 'choragen.governance.yaml'));

    let decision: Decision;
    let shownPath = this.target;
    try {
      const canonical = await canonicalize(workspace, this.target);
      shownPath = canonical.rel;
      // The broker's answer: built-in protections first, then the policy.
      decision = decideGuarded(policy, policyRelPath(workspace, policy.file), role, action, canonical.rel, workspaceFoldsCase(workspace));
    } catch (err) {
      if (!(err instanceof ToolRefusal)) throw err;
      decision = { decision: 'deny', rule: err.rule ?? 'path', reason: err.message };
    }

    if (this.json) {
      this.context.stdout.write(
        `${JSON.stringify({ decision: decision.decision, rule: decision.rule, reason: decision.reason, path: shownPath })}\n`,
      );
    } else {
      this.context.stdout.write(`${decision.decision}: ${role} ${action} ${shownPath}\n  rule:   ${decision.rule}\n  reason: ${decision.reason}\n`);
    }
    return 0;
  }
}
