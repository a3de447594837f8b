import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class CapabilitiesManifestCommand extends ChoragenCommand {
  static override paths = [['capabilities:manifest']];
  static override usage = Command.Usage({
    category: 'Governance',
    description: 'Print what each role is granted: tools, input schemas, governing rules, limits, and a hash to sign off',
    details: `
      Built from the same objects the broker uses to start sessions, so it shows exactly what a session is offered.
      The \`hash\` (SHA-256) changes whenever a tool, a schema, a rule, a limit or an output cap changes.
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
    const roles = 'roles' in manifest ? Object.values(manifest.roles) : [manifest];
    const out: string[] = [`policy ${policy.file} (sha256 ${policy.hash.slice(0, 16)}…)`];
    for (const r of roles) {
      out.push('', `role ${r.role}: ${r.tools.length} tools · max_depth ${r.limits.max_depth} · max_parallel ${r.limits.max_parallel} · hash ${r.hash}`);
      for (const t of r.tools) {
        const props = Object.keys((t.input_schema as { properties?: object }).properties ?? {}).join(', ');
        out.push(`  ${t.name.padEnd(20)} (${props})  governs: ${(t.rules.actions as string[]).join(', ') || '-'}`);
      }
      const m = (r.tools.find((t) => t.rules.mutations)?.rules.mutations ?? null) as Record<string, Array<{ rule: string; pattern: string; actions?: string[] }>> | null;
      if (m) {
        for (const kind of ['deny', 'approve', 'allow'] as const) {
          for (const rule of m[kind] ?? []) out.push(`    ${kind.padEnd(7)} ${rule.pattern}${rule.actions ? ` [${rule.actions.join(', ')}]` : ''}  (${rule.rule})`);
        }
      }
    }
    out.push('', `output caps: ${JSON.stringify(roles[0].limits.tool_output)}`);
    if ('hash' in manifest && 'roles' in manifest) out.push(`manifest hash ${manifest.hash}`);
    this.context.stdout.write(out.join('\n') + '\n');
    return 0;
  }
}
