// `choragen audit:verify [SESSION]`: recompute the hash chain of one root
// session's audit log, or of every log, and name the first broken line.
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace, workspacePaths } from '../paths.js';
import { UsageError } from '../../policy/errors.js';
import { termLine } from '../terminal/text.js';

export class AuditVerifyCommand extends ChoragenCommand {
  static override paths = [['audit:verify']];
  static override usage = Command.Usage({
    category: 'Metrics & audit',
    description: 'Verify the hash chain of the audit logs',
    details: `
      Each line of .choragen/audit/<root-session>.jsonl carries the SHA-256 of the
      line before it. This recomputes the chain of one root session's log (or of
      all logs) and prints how many lines were verified (exit 0), or the first
      broken FILE:LINE and why (exit 1): a changed byte, a deleted, inserted or
      moved line, or a garbled or half-written line. SESSION is a run's session id, a
      unique prefix of one, or the id of any session the log records (a child, a
      resumed session), as agent:show takes it. An unknown session exits with 2.
    `,
    examples: [
      ['Verify every log of the workspace', '$0 audit:verify'],
      ['Verify one run', '$0 audit:verify mx3b7k2q4e9f1c'],
      ['Verify the run a child session belongs to, by a prefix of its id', '$0 audit:verify mx3b7k3'],
    ],
  });

  workspace = workspaceOption();
  session = Option.String({ name: 'SESSION', required: false });

  async run(): Promise<number> {
    const workspace = resolveWorkspace(this.workspace);
    const { auditLogFiles } = await import('../audit/log.js');
    let files: string[];
    let note = '';
    if (this.session !== undefined) {
      const { findAuditLog } = await import('../audit/find-log.js');
      const found = findAuditLog(workspace, this.session);
      const where = path.relative(workspace, workspacePaths(workspace).audit) || '.';
      if (found === null) throw new UsageError(`no audit log in ${where} records session ${termLine(this.session)} (see agent:list)`);
      if ('ambiguous' in found) throw new UsageError(`session id prefix ${termLine(this.session)} is ambiguous: ${found.ambiguous.join(', ')}`);
      files = [found.file];
      if (path.basename(found.file, '.jsonl') !== found.sessionId) note = ` (the log of the run that holds session ${found.sessionId})`;
    } else {
      files = auditLogFiles(workspace);
    }
    const { verifyAuditFile } = await import('../audit/verify.js');
    let lines = 0;
    for (const file of files) {
      const r = verifyAuditFile(file);
      if (!r.ok) {
        this.context.stdout.write(`${path.relative(workspace, file)}:${r.line}: ${r.reason}\n`);
        return 1;
      }
      lines += r.lines;
    }
    const what = files.length === 1 && this.session !== undefined ? path.relative(workspace, files[0]!) : `${files.length} log${files.length === 1 ? '' : 's'}`;
    this.context.stdout.write(`verified ${what}${note}, ${lines} line${lines === 1 ? '' : 's'}: chain intact\n`);
    return 0;
  }
}
