// `choragen metrics:export --parquet DIR`: one Parquet file per metrics table.
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';
import { resolveWorkspace } from '../paths.js';
import { ChoragenError, UsageError } from '../../policy/errors.js';

export class MetricsExportCommand extends ChoragenCommand {
  static override paths = [['metrics:export']];
  static override usage = Command.Usage({
    category: 'Metrics & audit',
    description: 'Export the metrics tables as Parquet files',
    details: `
      Ingests the audit logs, then writes DIR/sessions.parquet,
      DIR/model_calls.parquet and DIR/tool_calls.parquet (DIR is created; files
      of the same name are replaced) and prints each file with its row count.
      A DIR that cannot be created or written to fails at once (exit 2).
    `,
    examples: [
      ['Export to ./metrics-export', '$0 metrics:export --parquet metrics-export'],
      ['Export another workspace', '$0 metrics:export --parquet /tmp/choragen-metrics --workspace ../project'],
    ],
  });

  parquet = Option.String('--parquet', { required: true, description: 'Directory to write the Parquet files into' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const workspace = resolveWorkspace(this.workspace);
    const dir = path.resolve(this.parquet);
    // Checked before any metrics work: a directory that cannot take the files fails at once.
    const { makeDirs } = await import('../make-dirs.js');
    const { errnoWords, storageAdvice, errnoCode } = await import('../storage-error.js');
    const cannot = (err: unknown, what: string) => {
      // The export directory is the user's choice, not the workspace: the advice is about it.
      const advice = errnoCode(err) === 'EROFS' ? 'give --parquet a directory on a writable file system' : storageAdvice(errnoCode(err));
      return new UsageError(`cannot ${what} ${dir}: ${errnoWords(err)}${advice ? `; ${advice}` : ''}`);
    };
    try {
      makeDirs(dir);
    } catch (err) {
      throw cannot(err, 'create the export directory');
    }
    const probe = path.join(dir, `.choragen-export-${process.pid}.tmp`);
    try {
      fs.writeFileSync(probe, '');
      fs.rmSync(probe);
    } catch (err) {
      throw cannot(err, 'write into the export directory');
    }
    const { withMetrics } = await import('../metrics/store.js');
    const { PUBLIC_TABLES, quoteIdent, quoteString } = await import('../metrics/schema.js');
    const written = await withMetrics(workspace, async (conn) => {
      const out: { file: string; rows: number }[] = [];
      for (const t of PUBLIC_TABLES) {
        const file = path.join(dir, `${t.name}.parquet`);
        try {
          const r = await conn.run(`COPY (SELECT * FROM ${quoteIdent(t.name)}) TO ${quoteString(file)} (FORMAT parquet)`);
          out.push({ file, rows: Number(r.rowsChanged) });
        } catch (err) {
          const first = (err as Error).message.split('\n')[0]!.replace(/^IO Error: /, '');
          throw new ChoragenError(`cannot write ${file}: ${first}`);
        }
      }
      return out;
    }, { note: this.note });
    for (const w of written) this.context.stdout.write(`${w.file}  ${w.rows} rows\n`);
    return 0;
  }
}
