// The workspace lock run_command takes: it waits for writes in progress, and
// writes and other commands wait for it.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WriteRegistry } from '../../../runtime/broker/write-locks.js';
import { makeWorkspace, removeWorkspace } from '../../support/cli.js';

describe('write locks: the workspace lock of a command', () => {
  let ws: string;
  beforeEach(() => { ws = makeWorkspace({ 'a.txt': 'a' }); });
  afterEach(() => removeWorkspace(ws));

  it('a command waits for a write in progress; a write asked for meanwhile waits for the command', async () => {
    const locks = new WriteRegistry();
    const order: string[] = [];
    const abs = path.join(ws, 'a.txt');
    const first = locks.write('s1', 0, 'a.txt', abs, async () => {
      order.push('write 1 starts');
      await sleep(30);
      order.push('write 1 ends');
    });
    const command = locks.exclusive(async () => {
      order.push('command starts');
      await sleep(30);
      order.push('command ends');
    });
    await sleep(5);
    const second = locks.write('s1', 0, 'b.txt', path.join(ws, 'b.txt'), async () => {
      order.push('write 2');
    });
    await Promise.all([first, command, second]);
    expect(order).to.deep.equal(['write 1 starts', 'write 1 ends', 'command starts', 'command ends', 'write 2']);
  });

  it('runs commands one at a time, a failed one included', async () => {
    const locks = new WriteRegistry();
    let running = 0;
    let most = 0;
    const command = (fail: boolean) => locks.exclusive(async () => {
      most = Math.max(most, ++running);
      await sleep(10);
      running--;
      if (fail) throw new Error('failed');
    });
    const results = await Promise.allSettled([command(false), command(true), command(false)]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(most).to.equal(1);
  });

  it('a file a command changed is stale for another session that read it before', async () => {
    const locks = new WriteRegistry();
    const abs = path.join(ws, 'a.txt');
    await locks.observe('reader', abs);
    await locks.exclusive(async () => {
      fs.writeFileSync(abs, 'changed by the command, longer');
      await locks.changedBy('runner', abs);
    });
    const err = await locks.write('reader', 0, 'a.txt', abs, async () => undefined).catch((e: Error) => e);
    expect((err as Error).message).to.match(/a\.txt changed since this session last read it/);
    // The session that ran the command has seen its own change.
    await locks.write('runner', 0, 'a.txt', abs, async () => undefined);
  });
});
