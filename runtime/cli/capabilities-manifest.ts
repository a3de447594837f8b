import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class CapabilitiesManifestCommand extends ChoragenCommand {
  static override paths = [['capabilities:manifest']];
  static override usage = Command.Usage({
    category: 'Policy',
    description: 'Print what each role is granted: tools, input schemas, governing rules, limits, and a hash to sign off',
    details: `
      Built from the same objects the broker uses to start sessions, so it shows exactly what a session is offered.
      The \`hash\` (SHA-256) changes whenever a tool, a schema, a rule, a limit or an output cap changes.
      The text names everything the JSON holds (per role: the rule sets with the tools that ask them, limits,
      output caps, each tool's fields and description, the full hashes), so signing either signs the same thing.
    `,
    examples: [
      ['Everything, readable', '$0 capabilities:manifest'],
      ['One role as JSON', '$0 capabilities:manifest --role impl --json'],
      ['Just the hash, for a sign-off record', '$0 capabilities:manifest --json | jq -r .hash'],
    ],
  });

  role = Option.String('--role', { description: 'control or impl (default: both)' });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });
  policy = Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { resolveWorkspace } = await import('../paths.js');
    const { loadWorkspacePolicy } = await import('../run/setup.js');
    const { roleManifest, fullManifest } = await import('../manifest.js');
    const { DEFAULT_TOOL_LIMITS } = await import('../../capabilities/capability.js');
    const { ROLES } = await import('../../policy/types.js');
    const { UsageError } = await import('../../policy/errors.js');
    if (this.role !== undefined && !(ROLES as readonly string[]).includes(this.role)) {
      throw new UsageError(`unknown role "${this.role}" (expected control or impl)`);
    }
    const policy = await loadWorkspacePolicy(resolveWorkspace(this.workspace), this.policy);
    const manifest = this.role ? roleManifest(policy, this.role as 'control' | 'impl', DEFAULT_TOOL_LIMITS) : fullManifest(policy, DEFAULT_TOOL_LIMITS);
    if (this.json) {
      this.context.stdout.write(JSON.stringify(manifest) + '\n');
      return 0;
    }
    const { manifestText } = await import('../manifest-text.js');
    this.context.stdout.write(manifestText(manifest, policy));
    return 0;
  }
}
