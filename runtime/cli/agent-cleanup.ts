// `choragen agent:cleanup`: remove what only resuming needs (transcripts and
// their journals) and the session commit refs, past an age; audit logs only
// with --audit, and only once they are ingested into metrics.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class AgentCleanupCommand extends ChoragenCommand {
  static override paths = [['agent:cleanup']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Remove old session transcripts and session commit refs (and, with --audit, old audit logs already ingested into metrics)',
    details: `
      Transcripts under \`.choragen/sessions/\` are only needed to resume a session: a session's journal (\`<id>.jsonl\`),
      final record (\`<id>.json\`) and the note of who resumed it (\`<id>.resumed.json\`). Each goes by its own age;
      the note is written after the session's journal and record, so it never goes before them and a session is never
      resumed a second time because its note went first. Session commits live on git refs
      \`refs/choragen/sessions/<id>\`, outside your branches; a ref whose commit is older than the age is deleted (its
      objects go with git's next gc). Audit logs are the record of what sessions did: they are kept unless \`--audit\`
      is given, and even then only after they are ingested into \`.choragen/metrics.duckdb\`. The age takes the same
      forms as \`metrics:summary --since\`: 30m, 12h, 7d, 2w.
    `,
    examples: [
      ['Remove transcripts and refs older than a week', '$0 agent:cleanup'],
      ['See what would go, older than 1 day', '$0 agent:cleanup --older-than 1d --dry-run'],
      ['Also remove audit logs older than 30 days', '$0 agent:cleanup --older-than 30d --audit'],
    ],
  });

  olderThan = Option.String('--older-than', '7d', { description: 'Age, e.g. 12h, 7d, 2w (default 7d)' });
  audit = Option.Boolean('--audit', false, { description: 'Also remove audit logs (after ingesting them)' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'List what would be removed, remove nothing' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { readdirSync, statSync, rmSync, existsSync } = await import('node:fs');
    const path = await import('node:path');
    const { resolveWorkspace, workspacePaths } = await import('../paths.js');
    const { UsageError } = await import('../../policy/errors.js');
    const { durationFlag } = await import('../duration.js');
    const { storageError } = await import('../storage-error.js');
    const cutoff = Date.now() - durationFlag('--older-than', this.olderThan);
    const workspace = resolveWorkspace(this.workspace);
    const paths = workspacePaths(workspace);
    const dirs: Array<[string, RegExp]> = [[paths.sessions, /\.jsonl?$/]];
    if (this.audit) {
      const { ingestWorkspace } = await import('../metrics/store.js');
      const result = await ingestWorkspace(workspace, { note: this.note });
      if (result.deferred) throw new UsageError(`audit logs were not ingested (${result.reason ?? 'the metrics database is busy'}), so none were removed; try again once that is fixed`);
      dirs.push([paths.audit, /\.jsonl$/]);
    }
    const say = (what: string) => this.context.stdout.write(`${this.dryRun ? 'would remove' : 'removed'} ${what}\n`);
    let removed = 0;
    for (const [dir, pattern] of dirs) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        const file = path.join(dir, name);
        if (!pattern.test(name) || statSync(file).mtimeMs >= cutoff) continue;
        if (!this.dryRun) {
          try {
            rmSync(file);
          } catch (err) {
            throw storageError(err, 'remove', file);
          }
        }
        say(path.relative(workspace, file));
        removed++;
      }
    }
    const { deleteSessionRef, listSessionRefs } = await import('../sessions/commits.js');
    for (const { ref, committedMs } of (await listSessionRefs(workspace)).sort((a, b) => a.ref.localeCompare(b.ref))) {
      if (committedMs >= cutoff) continue;
      if (!this.dryRun) {
        try {
          await deleteSessionRef(workspace, ref);
        } catch (err) {
          throw storageError(err, 'remove the git ref', ref);
        }
      }
      say(ref);
      removed++;
    }
    this.context.stdout.write(`${removed} ${removed === 1 ? 'item' : 'items'} ${this.dryRun ? 'would be removed' : 'removed'}\n`);
    return 0;
  }
}
