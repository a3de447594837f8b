// A DuckDB transaction: the work is committed whole or rolled back whole.
import type { DuckDBConnection } from '@duckdb/node-api';

/** Runs `work` between BEGIN and COMMIT; an error (the COMMIT's included) rolls back and is rethrown. */
export async function inTransaction<T>(conn: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    await conn.run('COMMIT');
    return result;
  } catch (err) {
    await conn.run('ROLLBACK');
    throw err;
  }
}
