// The session workers started while a run is prepared: handed to the broker
// when they fit the prepared run, closed when they do not or the run never starts.
import { expect } from 'chai';
import { EarlyPool } from '../../../runtime/run/early-pool.js';
import { detectSandbox } from '../../../runtime/broker/worker-sandbox.js';

describe('early session pool', () => {
  const sandbox = detectSandbox();

  it('is handed over, for the broker to own, when the run wants the same sandbox and heap cap', async () => {
    const handed = await EarlyPool.start(undefined).handOver({ sandbox, workerMemoryMb: 512 });
    expect(handed.ownPool).to.equal(true);
    expect(handed.pool!.options).to.deep.include({ sandbox, maxOldGenerationSizeMb: 512 });
    await handed.pool!.close();
  });

  it('is closed, and the broker makes its own, when the run wants another heap cap or sandbox', async () => {
    expect(await EarlyPool.start('256').handOver({ sandbox, workerMemoryMb: 512 })).to.deep.equal({});
    expect(await EarlyPool.start(undefined).handOver({ sandbox: sandbox === 'none' ? 'permission' : 'none', workerMemoryMb: 512 })).to.deep.equal({});
  });

  it('a bad --worker-memory-mb leaves no pool behind (the run reports the flag)', async () => {
    const early = EarlyPool.start('lots');
    expect(await early.handOver({ sandbox, workerMemoryMb: 512 })).to.deep.equal({});
    await early.discard();
  });
});
