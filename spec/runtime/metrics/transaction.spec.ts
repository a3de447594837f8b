// inTransaction: DuckDB work committed whole, or rolled back whole and the error rethrown.
import { expect } from 'chai';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { inTransaction } from '../../../runtime/metrics/transaction.js';

describe('inTransaction (runtime/metrics/transaction.ts)', () => {
  let conn: DuckDBConnection;
  const rows = async () => (await conn.runAndReadAll('SELECT n FROM t ORDER BY n')).getRows().map(([n]) => Number(n));

  beforeEach(async () => {
    conn = await (await DuckDBInstance.create(':memory:')).connect();
    await conn.run('CREATE TABLE t (n INTEGER PRIMARY KEY)');
  });
  afterEach(() => conn.closeSync());

  it('commits the work and returns its result', async () => {
    const result = await inTransaction(conn, async () => {
      await conn.run('INSERT INTO t VALUES (1), (2)');
      return 'done';
    });
    expect(result).to.equal('done');
    expect(await rows()).to.deep.equal([1, 2]);
  });

  it('rolls everything back when the work fails, and rethrows its error', async () => {
    await conn.run('INSERT INTO t VALUES (1)');
    const failure = await inTransaction(conn, async () => {
      await conn.run('INSERT INTO t VALUES (2)');
      throw new Error('stop here');
    }).catch((err: Error) => err);
    expect((failure as Error).message).to.equal('stop here');
    expect(await rows()).to.deep.equal([1]);
  });

  it('rolls back a statement that fails inside it (a constraint), leaving the connection usable', async () => {
    await conn.run('INSERT INTO t VALUES (1)');
    const failure = await inTransaction(conn, async () => {
      await conn.run('INSERT INTO t VALUES (3)');
      await conn.run('INSERT INTO t VALUES (1)');
    }).catch((err: Error) => err);
    expect(failure).to.be.instanceOf(Error);
    expect(await rows()).to.deep.equal([1]);
    await inTransaction(conn, () => conn.run('INSERT INTO t VALUES (4)'));
    expect(await rows()).to.deep.equal([1, 4]);
  });
});
