// Concurrent metrics readers on a realistic log set (issue 16 item 8): eight
// commands at once, on a database that is up to date and on one that still
// has every log to ingest, all answer from the database: none rebuilds
// everything in memory. Real CLI processes, real DuckDB file locks. (How long
// they take is the bench's business, not this spec's.)
import { expect } from 'chai';
import { writeSyntheticLogs } from '../../../bench/metrics.js';
import { ingestWorkspace } from '../../../runtime/metrics/store.js';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const READERS = 8;
const SQL = 'SELECT count(*) AS calls, count(DISTINCT session_id) AS sessions FROM tool_calls';

describe('concurrent metrics readers (issue 16)', function () {
  this.timeout(240_000);
  let ws: string;
  let events: number;
  before(() => {
    ws = makeWorkspace();
    // 20 runs, 200,000 tool calls: about 90 MB of logs.
    events = writeSyntheticLogs(ws, 20, 10_000);
  });
  after(() => removeWorkspace(ws));

  async function readTogether(): Promise<void> {
    const runs = await Promise.all(Array.from({ length: READERS }, () => runCli(['metrics:query', '--format', 'json', SQL, '-w', ws])));
    for (const r of runs) {
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr, 'no reader fell back to rebuilding in memory').to.equal('');
      expect(JSON.parse(r.stdout)).to.deep.equal([{ calls: 200_000, sessions: JSON.parse(runs[0]!.stdout)[0].sessions }]);
    }
  }

  it('eight readers of logs not yet ingested: one ingests, the others wait for it and read its database', async () => {
    await readTogether();
  });

  it('eight readers of an up-to-date database share it read-only', async () => {
    expect((await ingestWorkspace(ws)).lines).to.equal(0);
    expect(events).to.be.greaterThan(200_000);
    await readTogether();
  });
});
