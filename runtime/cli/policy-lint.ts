// `choragen policy:lint`: validate a governance file (file:line:key on the
// first error, exit 2) and warn about rules that probably do not do what
// their author meant (exit 0).
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { PolicyError } from '../../policy/errors.js';

export class PolicyLintCommand extends ChoragenCommand {
  static override paths = [['policy:lint']];
  static override usage = Command.Usage({
    category: 'Policy',
    description: 'Validate the governance file and warn about rules that cannot take effect',
    details: `
      Loads the file like every session does (an error names the file, the line
      and the key, and exits with code 2), reads every role's prompt file the
      way a run would (a missing or unreadable one is an error too), then
      prints warnings: rules that can never match or are shadowed by a deny,
      deny patterns without "/" that only protect the workspace root
      (\`.env\` where \`**/.env\` was meant), roles no role spawns (they run
      only when started directly), spawns that max_depth 0 rules out, tools a
      role lists but is not offered, a provider without a model.
      Prints "ok: no warnings" when there are none. Warnings exit with code 0.
    `,
    examples: [
      ['Lint the workspace policy', '$0 policy:lint'],
      ['Lint another file', '$0 policy:lint strict.governance.yaml'],
      ['Machine-readable result', '$0 policy:lint --json'],
    ],
  });

  workspace = workspaceOption();
  json = Option.Boolean('--json', false, { description: 'Print {"ok","file","hash","warnings"} (or {"ok":false,"error",...}) as JSON' });
  file = Option.String({ name: 'FILE', required: false });

  async run(): Promise<number> {
    // Prompt files are workspace paths: a file linted by name belongs to the workspace it sits in, unless -w says otherwise.
    const file = this.file ? path.resolve(this.file) : undefined;
    const workspace = resolveWorkspace(this.workspace ?? (file ? path.dirname(file) : undefined));
    const policyFile = file ?? path.join(workspace, 'choragen.governance.yaml');
    const { loadWorkspacePolicy } = await import('../run/setup.js');
    const { loadRolePrompts } = await import('../broker/role-prompts.js');
    const { lintPolicy } = await import('../../policy/lint.js');
    const { REGISTRY } = await import('../../capabilities/index.js');
    const { roleTools } = await import('../broker/grants.js');
    const { toolMutates } = await import('../manifest.js');

    let policy;
    try {
      policy = await loadWorkspacePolicy(workspace, policyFile);
      await loadRolePrompts(workspace, policy, policy.roles);
    } catch (err) {
      if (!this.json || !(err instanceof PolicyError)) throw err;
      const error = { ok: false, file: policyFile, error: err.message, line: err.line ?? null, key: err.key ?? null };
      this.context.stdout.write(`${JSON.stringify(error)}\n`);
      return err.exitCode;
    }

    const loaded = policy;
    const warnings = lintPolicy(policy, { offered: (role) => roleTools(loaded, role, REGISTRY), mutates: toolMutates });
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ ok: true, file: policyFile, hash: policy.hash, warnings })}\n`);
    } else if (warnings.length === 0) {
      this.context.stdout.write('ok: no warnings\n');
    } else {
      for (const w of warnings) this.context.stdout.write(`warning: ${w.rule}: ${w.message}\n`);
      this.context.stdout.write(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
    }
    return 0;
  }
}
