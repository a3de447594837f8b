import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class InitCommand extends ChoragenCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Write a commented choragen.governance.yaml and create .choragen/ in the workspace',
    details: `
      The governance file decides what each role may read, change and run. Review it before the first run:
      \`choragen policy:lint\` checks it and \`choragen capabilities:manifest\` shows what each role will be granted.

      impl may run (run_command, in a sandbox) the test, lint and type-check commands found in package.json:
      \`npm test\` (or \`node --test\` without a test script), \`npm run <script>\` for lint and typecheck scripts,
      \`npx tsc --noEmit\` where TypeScript is used; nothing else. Without a package.json it may run nothing.
    `,
    examples: [
      ['Set up the current directory', '$0 init'],
      ['Replace an existing policy with the defaults', '$0 init --force'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Overwrite an existing choragen.governance.yaml' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { existsSync, writeFileSync } = await import('node:fs');
    const { ensureStateDir } = await import('../run/setup.js');
    const { resolveWorkspace, workspacePaths } = await import('../paths.js');
    const { defaultPolicyYaml, suggestCommands } = await import('../../policy/default-policy.js');
    const { UsageError } = await import('../../policy/errors.js');
    const root = resolveWorkspace(this.workspace);
    const paths = workspacePaths(root);
    if (existsSync(paths.policy) && !this.force) {
      throw new UsageError(`${paths.policy} already exists; keep it, or run \`choragen init --force\` to replace it with the defaults`);
    }
    const { readFileSync } = await import('node:fs');
    const path = await import('node:path');
    let project = null;
    let unreadable = false;
    try {
      project = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
      if (project === null || typeof project !== 'object' || Array.isArray(project)) throw new Error('not an object');
    } catch (err) {
      unreadable = (err as NodeJS.ErrnoException).code !== 'ENOENT';
      project = unreadable ? {} : null;
    }
    const commands = suggestCommands(project, existsSync(path.join(root, 'tsconfig.json')));
    ensureStateDir(root);
    writeFileSync(paths.policy, defaultPolicyYaml(commands));
    const { quoteCommand } = await import('../../policy/command-line.js');
    const allowed = commands.length
      ? `impl may run: ${commands.map((c) => quoteCommand(c.argv)).join(', ')}${unreadable ? ' (package.json could not be read as JSON: its scripts were not looked at)' : ''}\n`
      : 'impl may run no command (no package.json); see the commented commands section to allow some\n';
    this.context.stdout.write(
      `wrote ${paths.policy}\ncreated ${paths.state}/ (audit log, metrics, session transcripts)\n${allowed}` +
      `next: review the policy, then \`choragen capabilities:manifest\` and \`choragen agent:start --role control --message "…"\`\n`,
    );
    return 0;
  }
}
