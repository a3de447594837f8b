// `choragen metrics:query SQL`: read-only SQL over the metrics tables, after
// bringing them up to date with the audit logs.
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { UsageError } from '../../policy/errors.js';

const FORMATS = ['table', 'json', 'csv'] as const;

export class MetricsQueryCommand extends ChoragenCommand {
  static override paths = [['metrics:query']];
  static override usage = Command.Usage({
    category: 'Metrics & audit',
    description: 'Run read-only SQL over the metrics tables (sessions, model_calls, tool_calls)',
    details: `
      Ingests the audit logs not yet in .choragen/metrics.duckdb, then runs one
      read-only statement (SELECT, WITH, PRAGMA, DESCRIBE, SHOW, EXPLAIN,
      SUMMARIZE). If the database cannot be used (another process holds it for
      too long, a read-only or full disk, a damaged file), the answer comes from
      an in-memory copy built from the audit logs, and a note on stderr says
      why. An audit log whose hash chain breaks is taken only up to the break,
      and a note names the file and line.

      Formats: \`table\` (aligned columns, the default), \`json\` (an array of row
      objects, numbers as numbers, timestamps as ISO strings), \`csv\`.
      A SQL error prints one line and exits with 2; a statement that would change
      something is refused by name. The query sees the metrics database only: no
      file, URL or extension outside it. SQL that begins with a dash (a \`--\`
      comment) goes after \`--\`.

      Query \`sessions\`, \`model_calls\` and \`tool_calls\`. \`SHOW TABLES\` also
      lists choragen's bookkeeping (\`audit_logs\`, \`ingested_logs\`,
      \`model_call_rows\`, \`tool_call_rows\`, \`schema_version\`): internal, not
      an interface. See docs/metrics.md for the schema.
    `,
    examples: [
      ['Cost per root session', `$0 metrics:query "SELECT root_id, sum(cost_usd) AS cost FROM sessions GROUP BY root_id ORDER BY cost DESC"`],
      ['Denials per rule as JSON', `$0 metrics:query --format json "SELECT rule, count(*) AS n FROM tool_calls WHERE decision = 'deny' GROUP BY rule"`],
      ['Export failed sessions as CSV', `$0 metrics:query --format csv "SELECT session_id, error FROM sessions WHERE status = 'failed'"`],
    ],
  });

  format = Option.String('--format', 'table', { description: 'table (default), json or csv' });
  workspace = workspaceOption();
  sql = Option.String({ name: 'SQL' });

  async run(): Promise<number> {
    if (!(FORMATS as readonly string[]).includes(this.format)) {
      throw new UsageError(`unknown format "${this.format}" (expected ${FORMATS.join(', ')})`);
    }
    const workspace = resolveWorkspace(this.workspace);
    const { assertReadOnlySql, runReadOnly, withMetrics } = await import('../metrics/store.js');
    assertReadOnlySql(this.sql);
    const answer = await withMetrics(workspace, (conn) => runReadOnly(conn, this.sql), { note: this.note });
    if (!answer) return 1;
    const { columns, rows } = answer;
    const { formatCsv, formatTable } = await import('../metrics/format.js');
    if (this.format === 'json') this.context.stdout.write(`${JSON.stringify(rows)}\n`);
    else if (this.format === 'csv') this.context.stdout.write(formatCsv(columns, rows, !!(this.context.stdout as NodeJS.WriteStream).isTTY));
    else this.context.stdout.write(formatTable(columns, rows) + `(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
    return 0;
  }
}
