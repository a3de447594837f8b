import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class CapabilitiesManifestCommand extends ChoragenCommand {
  static override paths = [['capabilities:manifest']];
  static override usage = Command.Usage({
    category: 'Policy',
    description: 'Print what each role is granted: tools, input schemas, governing rules, model, provider, spawns, limits, and a hash to sign off',
    details: `
      Built from the same objects the broker uses to start sessions, so it shows exactly what a session is offered,
      for every role: control, impl and the roles the policy defines. A role's \`model\` and \`provider\` are its own
      when its section names them, else the run defaults (\`--provider\`, \`--model\`, as agent:start would take them).
      The \`hash\` (SHA-256) changes whenever a tool, a schema, a rule, the roles it may start, its model, its provider,
      its prompt, a limit or an output cap changes.
      The text names everything the JSON holds (per role: the rule sets with the tools that ask them, limits,
      output caps, each tool's fields and description, the full hashes), so signing either signs the same thing.
      For run_command it shows the \`commands\` rules and what the sandbox promises (writable, read-only and
      hidden paths, no network, no environment), and whether the sandbox works on this machine
      ("unavailable: <reason>" says what to install); that status is not part of the hash.
    `,
    examples: [
      ['Everything, readable', '$0 capabilities:manifest'],
      ['One role as JSON', '$0 capabilities:manifest --role impl --json'],
      ['A role defined in the policy', '$0 capabilities:manifest --role reviewer'],
      ['Just the hash, for a sign-off record', '$0 capabilities:manifest --json | jq -r .hash'],
    ],
  });

  role = Option.String('--role', { description: 'One role (control, impl or one the policy defines; default: every role)' });
  provider = Option.String('--provider', { description: 'The run default to assume for roles without their own: anthropic (default), openai or script' });
  model = Option.String('--model', { description: 'The run default model to assume (default: $CHORAGEN_MODEL or the provider\'s default)' });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });
  policy = Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { resolveWorkspace } = await import('../paths.js');
    const { loadWorkspacePolicy, runDefaults } = await import('../run/setup.js');
    const { definedRole } = await import('../broker/role-models.js');
    const { roleManifest, fullManifest } = await import('../manifest.js');
    const { loadRolePrompts } = await import('../broker/role-prompts.js');
    const { DEFAULT_TOOL_LIMITS } = await import('../../capabilities/capability.js');
    const workspace = resolveWorkspace(this.workspace);
    const policy = await loadWorkspacePolicy(workspace, this.policy);
    const role = this.role !== undefined ? definedRole(policy, this.role) : undefined;
    const settings = {
      toolLimits: DEFAULT_TOOL_LIMITS,
      defaults: runDefaults({ provider: this.provider, model: this.model }),
      prompts: await loadRolePrompts(workspace, policy, role !== undefined ? [role] : policy.roles),
      workspace,
      sandboxStatus: await this.sandboxStatus(policy),
    };
    const manifest = role !== undefined ? roleManifest(policy, role, settings) : fullManifest(policy, settings);
    if (this.json) {
      this.context.stdout.write(JSON.stringify(manifest) + '\n');
      return 0;
    }
    const { manifestText } = await import('../manifest-text.js');
    this.context.stdout.write(manifestText(manifest, policy));
    return 0;
  }

  /** The command sandbox on this machine, when any role is offered run_command. */
  private async sandboxStatus(policy: import('../../policy/types.js').CompiledPolicy): Promise<string | undefined> {
    const { roleTools } = await import('../broker/grants.js');
    const { REGISTRY } = await import('../../capabilities/index.js');
    if (!policy.roles.some((r) => roleTools(policy, r, REGISTRY).includes('run_command'))) return undefined;
    const { DEFAULT_SANDBOX_LIMITS, cgroupStatus, probeSandbox } = await import('../../capabilities/sandbox/index.js');
    const verdict = await probeSandbox();
    return verdict.ok ? `available: ${verdict.sandbox.version}; ${await cgroupStatus(DEFAULT_SANDBOX_LIMITS)}` : `unavailable: ${verdict.reason}`;
  }
}
