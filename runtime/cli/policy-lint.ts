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
      and the key, and exits with code 2), then prints warnings: rules that can
      never match or are shadowed by a deny, and deny patterns without "/" that
      only protect the workspace root (\`.env\` where \`**/.env\` was meant).
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
    const file = this.file
      ? path.resolve(this.file)
      : path.join(resolveWorkspace(this.workspace), 'choragen.governance.yaml');
    const { loadPolicy } = await import('../../policy/load.js');
    const { lintPolicy } = await import('../../policy/lint.js');

    let policy;
    try {
      policy = await loadPolicy(file);
    } catch (err) {
      if (!this.json || !(err instanceof PolicyError)) throw err;
      const error = { ok: false, file, error: err.message, line: err.line ?? null, key: err.key ?? null };
      this.context.stdout.write(`${JSON.stringify(error)}\n`);
      return err.exitCode;
    }

    const warnings = lintPolicy(policy);
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ ok: true, file, hash: policy.hash, warnings })}\n`);
    } else if (warnings.length === 0) {
      this.context.stdout.write('ok: no warnings\n');
    } else {
      const { termLine } = await import('../terminal/text.js');
      for (const w of warnings) this.context.stdout.write(`warning: ${termLine(w.rule)}: ${termLine(w.message)}\n`);
      this.context.stdout.write(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
    }
    return 0;
  }
}
