import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class AgentCleanupCommand extends ChoragenCommand {
  static override paths = [['agent:cleanup']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Remove old session transcripts (and, with --audit, old audit logs already ingested into metrics)',
    details: `
      Transcripts under \`.choragen/sessions/\` are only needed to resume a session. Audit logs are the record of what
      sessions did: they are kept unless \`--audit\` is given, and even then only after they are ingested into
      \`.choragen/metrics.duckdb\`.
    `,
    examples: [
      ['Remove transcripts older than a week', '$0 agent:cleanup'],
      ['See what would go, older than 1 day', '$0 agent:cleanup --older-than 1d --dry-run'],
      ['Also remove audit logs older than 30 days', '$0 agent:cleanup --older-than 30d --audit'],
    ],
  });

  olderThan = Option.String('--older-than', '7d', { description: 'Age, e.g. 12h, 7d (default 7d)' });
  audit = Option.Boolean('--audit', false, { description: 'Also remove audit logs (after ingesting them)' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'List what would be removed, remove nothing' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { readdirSync, statSync, rmSync, existsSync } = await import('node:fs');
    const path = await import('node:path');
    const { resolveWorkspace, workspacePaths } = await import('../paths.js');
    const { UsageError } = await import('../../policy/errors.js');
    const { durationFlag } = await import('../duration.js');
    const cutoff = Date.now() - durationFlag('--older-than', this.olderThan);
    const paths = workspacePaths(resolveWorkspace(this.workspace));
    const dirs: Array<[string, RegExp]> = [[paths.sessions, /\.json$/]];
    if (this.audit) {
      const { ingestWorkspace } = await import('../metrics/store.js');
      const result = await ingestWorkspace(path.dirname(paths.state));
      if ((result as { deferred?: boolean }).deferred) throw new UsageError('the metrics database is busy; audit logs were not ingested, so none were removed. Try again later');
      dirs.push([paths.audit, /\.jsonl$/]);
    }
    let removed = 0;
    for (const [dir, pattern] of dirs) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (!pattern.test(name) || statSync(file).mtimeMs >= cutoff) continue;
        this.context.stdout.write(`${this.dryRun ? 'would remove' : 'removed'} ${path.relative(path.dirname(paths.state), file)}\n`);
        if (!this.dryRun) rmSync(file);
        removed++;
      }
    }
    this.context.stdout.write(`${removed} file${removed === 1 ? '' : 's'} ${this.dryRun ? 'would be removed' : 'removed'}\n`);
    return 0;
  }
}
