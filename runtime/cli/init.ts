import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class InitCommand extends ChoragenCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Write a commented choragen.governance.yaml and create .choragen/ in the workspace',
    details: `
      The governance file decides what each role may read and change. Review it before the first run:
      \`choragen policy:lint\` checks it and \`choragen capabilities:manifest\` shows what each role will be granted.
    `,
    examples: [
      ['Set up the current directory', '$0 init'],
      ['Replace an existing policy with the defaults', '$0 init --force'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Overwrite an existing choragen.governance.yaml' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { statSync, writeFileSync } = await import('node:fs');
    const { ensureStateDir } = await import('../run/setup.js');
    const { resolveWorkspace, workspacePaths } = await import('../paths.js');
    const { DEFAULT_POLICY_YAML } = await import('../../policy/default-policy.js');
    const { UsageError } = await import('../../policy/errors.js');
    const { storageError } = await import('../storage-error.js');
    const root = resolveWorkspace(this.workspace);
    const paths = workspacePaths(root);
    const existing = statSync(paths.policy, { throwIfNoEntry: false });
    // --force replaces a policy file, never a directory in its place.
    if (existing?.isDirectory()) {
      throw new UsageError(`${paths.policy} is a directory, not a governance file; move it out of the way, then run \`choragen init\` again`);
    }
    if (existing && !this.force) {
      throw new UsageError(`${paths.policy} already exists; keep it, or run \`choragen init --force\` to replace it with the defaults`);
    }
    ensureStateDir(root);
    try {
      writeFileSync(paths.policy, DEFAULT_POLICY_YAML);
    } catch (err) {
      throw storageError(err, 'write', paths.policy, true);
    }
    this.context.stdout.write(
      `wrote ${paths.policy}\ncreated ${paths.state}/ (audit log, metrics, session transcripts)\n` +
      `next: review the policy, then \`choragen capabilities:manifest\` and \`choragen agent:start --role control --message "…"\`\n`,
    );
    return 0;
  }
}
