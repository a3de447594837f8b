// `choragen policy:check`: what the policy decides for one role and a path
// with an action, or for one command (run_command), and which rule decides
// it. Paths go through the same canonicalization as a tool call, commands
// through the same built-in guard and program lookup, so the answer is the
// broker's answer.
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace, workspaceRelative } from '../paths.js';
import { ToolRefusal, UsageError } from '../../policy/errors.js';
import { MUTATION_ACTIONS, type Action, type CompiledPolicy, type Decision, type Role } from '../../policy/types.js';

const ACTIONS: readonly Action[] = [...MUTATION_ACTIONS, 'read'];

export class PolicyCheckCommand extends ChoragenCommand {
  static override paths = [['policy:check']];
  static override usage = Command.Usage({
    category: 'Policy',
    description: 'Show what the governance policy decides for a role and a path, or a command',
    details: `
      Prints the decision (allow, approve or deny), the rule that decided it
      (e.g. \`roles.impl.deny[0]\`, \`mutations.deny[2]\`, \`commands.allow[0]\`, \`default\`) and its reason.

      For a path, give \`--action\` (create, modify, delete, move, read): the path is
      canonicalized like a tool call's (relative to the workspace, or to the
      current directory when that is inside it; symlinks resolved; a path
      outside the workspace is denied by rule \`path\`).

      For a command, give \`--command "npm test"\` (split into words like a shell
      would, quotes included, nothing expanded) or the argv itself after \`--\`.
      It is checked as run_command checks it: shells, wrappers such as env or
      xargs and code given inline (node -e) are refused by a \`builtin.*\` rule
      first, then the \`commands\` rules decide. The exit code is 0 whatever the decision.
    `,
    examples: [
      ['Can impl modify a source file?', '$0 policy:check --role impl --action modify src/index.ts'],
      ['Machine-readable answer', '$0 policy:check --role control --action move docs/tasks/todo/CHAIN-001/001-setup.md --json'],
      ['May impl run the tests?', '$0 policy:check --role impl --command "npm test"'],
      ['The same, argv after --', '$0 policy:check --role impl -- node --test test/'],
      ['Check against another policy file', '$0 policy:check --role impl --action read .env --policy strict.governance.yaml'],
    ],
  });

  role = Option.String('--role', { required: true, description: 'Session role: control, impl or one the policy defines' });
  action = Option.String('--action', { description: 'For a path: create, modify, delete, move or read' });
  command = Option.String('--command', { description: 'A command line to check instead of a path, e.g. "npm test"' });
  policyFile = Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' });
  workspace = workspaceOption();
  json = Option.Boolean('--json', false, { description: 'Print {"decision","rule","reason","path"} (or "command","argv") as JSON' });
  rest = Option.Rest({ name: 'PATH | -- ARGV' });

  async run(): Promise<number> {
    // What was asked is checked before the policy is read: a wrong invocation is named as such.
    const checksPath = this.command === undefined && this.action !== undefined;
    if (checksPath && !(ACTIONS as readonly string[]).includes(this.action!)) {
      throw new UsageError(`unknown action "${this.action}" (expected ${ACTIONS.join(', ')})`);
    }
    if (checksPath && this.rest.length !== 1) {
      throw new UsageError(`policy:check needs PATH with --action (${this.rest.length === 0 ? 'none given' : 'give one'}), or --command "…" / -- ARGV… to check a command`);
    }
    // A path given without --action must not be checked as a program of that name: a command is asked for
    // by --command or after `--` (clipanion hands both kinds of words over alike, so the process's own argv tells).
    if (this.command === undefined && this.action === undefined && this.rest.length > 0 && !process.argv.includes('--')) {
      throw new UsageError(`policy:check needs --action (${ACTIONS.join(', ')}) to check the path ${JSON.stringify(this.rest[0])}; to check a command, give --command "…" or put it after --`);
    }
    const workspace = resolveWorkspace(this.workspace);
    const { loadWorkspacePolicy } = await import('../run/setup.js');
    const { definedRole } = await import('../broker/role-models.js');
    const policy = await loadWorkspacePolicy(workspace, this.policyFile ? path.resolve(this.policyFile) : undefined);
    const role = definedRole(policy, this.role);

    if (!checksPath) return this.checkCommand(policy, workspace, role);
    // PATH is taken from the current directory when it is inside the workspace, as git takes paths.
    return this.checkPath(policy, workspace, role, this.action as Action, workspaceRelative(workspace, this.rest[0]!));
  }

  private async checkPath(policy: CompiledPolicy, workspace: string, role: Role, action: Action, target: string): Promise<number> {
    const { canonicalize } = await import('../../policy/canonical.js');
    const { decideGuarded, policyRelPath } = await import('../../policy/protected-paths.js');
    const { workspaceFoldsCase } = await import('../../policy/case-folding.js');
    let decision: Decision;
    let shownPath = target;
    try {
      const canonical = await canonicalize(workspace, target);
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
      const { termLine } = await import('../terminal/text.js');
      this.context.stdout.write(`${decision.decision}: ${role} ${action} ${termLine(shownPath)}\n  rule:   ${termLine(decision.rule)}\n  reason: ${termLine(decision.reason)}\n`);
    }
    return 0;
  }

  private async checkCommand(policy: CompiledPolicy, workspace: string, role: Role): Promise<number> {
    const { quoteCommand, splitCommandLine } = await import('../../policy/command-line.js');
    const { guardCommand } = await import('../../policy/command-guard.js');
    const { resolveCommand } = await import('../../capabilities/commands/program.js');
    const { defaultPathDirs } = await import('../../capabilities/sandbox/plan.js');
    if (this.command !== undefined && this.rest.length > 0) throw new UsageError('give the command either with --command "…" or after --, not both');
    if (this.command === undefined && this.rest.length === 0) {
      throw new UsageError('say what to check: --action ACTION PATH, --command "npm test", or -- ARGV…');
    }
    const argv = this.command !== undefined ? splitCommandLine(this.command) : [...this.rest];
    if (argv === null) throw new UsageError(`--command: unterminated quote in ${JSON.stringify(this.command)}`);
    if (argv.length === 0) throw new UsageError('--command: the command is empty');
    const { canonicalize, workspaceRoot } = await import('../../policy/canonical.js');
    const root = await workspaceRoot(workspace);
    const program = await resolveCommand(argv, {
      root,
      cwd: root,
      pathDirs: defaultPathDirs(root.abs),
      resolve: (rel) => canonicalize(workspace, rel),
    });
    const decision = guardCommand(argv, program.facts) ?? policy.decideCommand(role, argv);
    const line = quoteCommand(argv);
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ decision: decision.decision, rule: decision.rule, reason: decision.reason, command: line, argv })}\n`);
    } else {
      const { termLine } = await import('../terminal/text.js');
      this.context.stdout.write(`${decision.decision}: ${role} runs ${termLine(line)}\n  rule:   ${termLine(decision.rule)}\n  reason: ${termLine(decision.reason)}\n`);
    }
    return 0;
  }
}
