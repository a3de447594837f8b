import { expect } from 'chai';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { distRoot } from '../../runtime/paths.js';
import { detectSandbox, workerExecArgv } from '../../runtime/broker/worker-sandbox.js';
import { SessionPool } from '../../runtime/broker/session-pool.js';
import { makeWorkspace, removeWorkspace } from '../support/cli.js';

describe('session worker sandbox', () => {
  it('finds a permission flag on this Node', () => {
    expect(detectSandbox()).to.not.equal('none');
    expect(workerExecArgv(detectSandbox())[0]).to.match(/^--(experimental-)?permission$/);
  });

  it('denies reads of the workspace, writes, child processes, workers, env secrets and fetch', async () => {
    const ws = makeWorkspace({ '.env': 'API_TOKEN=top-secret', 'src/a.ts': 'x' });
    process.env.CHORAGEN_SPEC_SECRET = 'do-not-leak';
    const pool = await SessionPool.create({ sandbox: detectSandbox(), maxThreads: 1, filename: path.join(distRoot, 'spec', 'support', 'probe-worker.js') });
    try {
      const result: any = await pool.run({ secretFile: path.join(ws, '.env'), writeDir: ws }, []);
      expect(result.read).to.equal('ERR_ACCESS_DENIED');
      expect(result.write).to.equal('ERR_ACCESS_DENIED');
      expect(result.spawn).to.equal('ERR_ACCESS_DENIED');
      expect(result.worker).to.equal('ERR_ACCESS_DENIED');
      expect(result.envKeys).to.deep.equal([]);
      expect(result.fetch).to.equal('undefined');
      expect(existsSync(path.join(ws, 'planted.txt'))).to.equal(false);
    } finally {
      delete process.env.CHORAGEN_SPEC_SECRET;
      await pool.close();
      removeWorkspace(ws);
    }
  });
});
