// `choragen init`: the default policy, the state directory, and .choragen/ in .gitignore.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

/** Adds `.choragen/` to the workspace's .gitignore (made if needed); the file's name, or null when it is there already. */
export function ignoreStateDir(workspace: string): string | null {
  const file = path.join(workspace, '.gitignore');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const already = text.split(/\r?\n/).some((l) => /^\/?(\*\*\/)?\.choragen(\/(\*\*?)?)?\s*$/.test(l.trim()));
  if (already) return null;
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}# choragen's audit log, metrics and transcripts\n.choragen/\n`);
  return '.gitignore';
}

export class InitCommand extends ChoragenCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Write a commented choragen.governance.yaml, create .choragen/ and add it to .gitignore',
    details: `
      The governance file decides what each role may read, change and run. Review it before the first run:
      \`choragen policy:lint\` checks it and \`choragen capabilities:manifest\` shows what each role will be granted.

      impl may run (run_command, in a sandbox) the test, lint and type-check commands found in package.json:
      \`npm test\` (or \`node --test\` without a test script), \`npm run <script>\` for lint and typecheck scripts,
      \`npx tsc --noEmit\` where TypeScript is used; nothing else. Without a package.json it may run nothing.

      The \`roles:\` section ends with a commented example of a read-only \`reviewer\` role (its own prompt file,
      read-only tools, a model on an OpenAI-compatible endpoint) and the \`spawns\` line that lets control start it.
    `,
    examples: [
      ['Set up this project (at its git root, or here outside git)', '$0 init'],
      ['Replace an existing policy with the defaults', '$0 init --force'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Overwrite an existing choragen.governance.yaml' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { statSync, writeFileSync } = await import('node:fs');
    const { ensureStateDir } = await import('../run/setup.js');
    const { resolveWorkspace, workspacePaths } = await import('../paths.js');
    const { defaultPolicyYaml, suggestCommands } = await import('../../policy/default-policy.js');
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
    try {
      writeFileSync(paths.policy, defaultPolicyYaml(commands));
    } catch (err) {
      throw storageError(err, 'write', paths.policy, true);
    }
    const ignored = ignoreStateDir(root);
    const { quoteCommand } = await import('../../policy/command-line.js');
    const allowed = commands.length
      ? `impl may run: ${commands.map((c) => quoteCommand(c.argv)).join(', ')}${unreadable ? ' (package.json could not be read as JSON: its scripts were not looked at)' : ''}\n`
      : 'impl may run no command (no package.json); see the commented commands section to allow some\n';
    this.context.stdout.write(
      `wrote ${paths.policy}\ncreated ${paths.state}/ (audit log, metrics, session transcripts)\n${allowed}` +
      (ignored ? `added .choragen/ to ${ignored} (choragen's records stay out of git)\n` : '') +
      `next: review the policy, then \`choragen capabilities:manifest\` and \`choragen agent:start --role control --message "…"\`\n`,
    );
    return 0;
  }
}
