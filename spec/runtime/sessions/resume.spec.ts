import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESUMED_NOTE, ResumeLock, continuation, markResumed, resumedBy } from '../../../runtime/sessions/resume.js';
import { workspacePaths } from '../../../runtime/paths.js';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

const use = (id: string, name = 'edit_file', input: unknown = { path: 'src/a.ts' }) => ({ type: 'tool_use' as const, id, name, input });

describe('resuming a session', () => {
  describe('continuation', () => {
    const first = { role: 'user' as const, content: 'go' };

    it('gives each call of the last turn its recorded result, and never asks for it to run again', () => {
      const last = { role: 'assistant' as const, content: [use('t1'), use('t2', 'read_file')] };
      const recorded = [{ type: 'tool_result' as const, tool_use_id: 't2', content: 'two' }, { type: 'tool_result' as const, tool_use_id: 't1', content: 'one' }];
      const out = continuation({ messages: [first, last], tool_results: recorded });
      expect(out.slice(0, 2)).to.deep.equal([first, last]);
      expect(out[2]).to.deep.equal({ role: 'user', content: [recorded[1], recorded[0]] });
    });

    it('reports a call without a recorded result as interrupted, its effect unknown', () => {
      const out = continuation({ messages: [first, { role: 'assistant', content: [use('t1')] }], tool_results: [] });
      const [result] = out[2]!.content as any[];
      expect(result).to.include({ type: 'tool_result', tool_use_id: 't1', is_error: true });
      expect(result.content).to.equal(
        'interrupted: the session stopped while edit_file on src/a.ts was running, and its result was not recorded; ' +
          'its effect may or may not have happened. Check the current state (read the file, list the directory) before you try it again.',
      );
    });

    it('asks the model to go on after a message without calls, and leaves a finished turn as it is', () => {
      const text = { role: 'assistant' as const, content: [{ type: 'text' as const, text: 'thinking' }] };
      expect(continuation({ messages: [first, text] }).at(-1)).to.deep.equal({ role: 'user', content: RESUMED_NOTE });
      const answered = [first, { role: 'assistant' as const, content: [use('t1')] }, { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: 't1', content: 'ok' }] }];
      expect(continuation({ messages: answered })).to.deep.equal(answered);
    });
  });

  describe('the resume lock and the resumed-by record', () => {
    let ws: string;
    beforeEach(() => {
      ws = makeWorkspace();
      mkdirSync(workspacePaths(ws).sessions, { recursive: true });
    });
    afterEach(() => removeWorkspace(ws));
    const lockFile = () => path.join(workspacePaths(ws).sessions, 'sess01.resume.lock');

    it('refuses while a live process holds it; free again once released', () => {
      const lock = ResumeLock.acquire(ws, 'sess01');
      expect(() => ResumeLock.acquire(ws, 'sess01')).to.throw(new RegExp(`session sess01 is already being resumed by process ${process.pid} `));
      lock.release();
      ResumeLock.acquire(ws, 'sess01').release();
      expect(readdirSync(workspacePaths(ws).sessions)).to.deep.equal([]);
    });

    it('takes over a lock whose holder was killed', async () => {
      // A real process takes the lock and is killed holding it.
      const script = `import('${new URL('../../../runtime/sessions/resume.js', import.meta.url).href}').then((m) => { m.ResumeLock.acquire(${JSON.stringify(ws)}, 'sess01'); console.log('held'); setInterval(() => {}, 1000); })`;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      expect(() => ResumeLock.acquire(ws, 'sess01')).to.throw(/already being resumed by process/);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(existsSync(lockFile())).to.equal(true);
      const lock = ResumeLock.acquire(ws, 'sess01');
      lock.release();
      expect(readdirSync(workspacePaths(ws).sessions)).to.deep.equal([]);
    });

    it('processes racing to take over a dead holder\'s lock: never two holders at once', async function () {
      this.timeout(60_000);
      const contenders = 6;
      const resume = new URL('../../../runtime/sessions/resume.js', import.meta.url).href;
      for (let round = 0; round < 4; round++) {
        // A lock left by a process that is gone (pid 2^22 - 1 is above any pid this kernel hands out by default).
        writeFileSync(lockFile(), JSON.stringify({ pid: 4194303, since: new Date().toISOString() }));
        const at = Date.now() + 700;
        // Each waits for the same instant, tries, and if it holds the lock keeps it a moment: its span must overlap no other's.
        const script = `import(${JSON.stringify(resume)}).then((m) => { while (Date.now() < ${at}); let span = null;
          try { const lock = m.ResumeLock.acquire(${JSON.stringify(ws)}, 'sess01'); const from = performance.timeOrigin + performance.now();
            const until = Date.now() + 60; while (Date.now() < until); span = [from, performance.timeOrigin + performance.now()]; lock.release(); } catch {}
          console.log(JSON.stringify(span)); })`;
        const spans = await Promise.all(Array.from({ length: contenders }, () => new Promise<[number, number] | null>((resolve) => {
          const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.once('exit', () => resolve(JSON.parse(out.trim() || 'null')));
        })));
        const held = spans.filter((x): x is [number, number] => x !== null).sort((a, b) => a[0] - b[0]);
        expect(held.length, `round ${round}`).to.be.at.least(1);
        for (let i = 1; i < held.length; i++) expect(held[i]![0], `round ${round}: two holders at once`).to.be.at.least(held[i - 1]![1]);
        expect(readdirSync(workspacePaths(ws).sessions), `round ${round}`).to.deep.equal([]);
      }
    });

    it('a lock file that is not a lock (garbled) is taken over; a bad id never names a path', () => {
      writeFileSync(lockFile(), 'garbage');
      ResumeLock.acquire(ws, 'sess01').release();
      expect(() => ResumeLock.acquire(ws, '../escape')).to.throw(/not a session id/);
      expect(() => markResumed(ws, '../escape', 'x')).to.throw(/not a session id/);
    });

    it('agent:cleanup removes a session\'s journal, record and resumed-by note together, never the note alone', async () => {
      const dir = workspacePaths(ws).sessions;
      const old = new Date(Date.now() - 10 * 86_400_000);
      for (const f of ['sess01.json', 'sess01.jsonl', 'sess01.resumed.json']) {
        writeFileSync(path.join(dir, f), '{}');
        utimesSync(path.join(dir, f), old, old);
      }
      writeFileSync(path.join(dir, 'sess02.jsonl'), '{}');
      const r = await runCli(['agent:cleanup', '-w', ws]);
      expect(r.code, r.stderr).to.equal(0);
      expect(readdirSync(dir)).to.deep.equal(['sess02.jsonl']);
    });

    it('records who resumed a session', () => {
      expect(resumedBy(ws, 'sess01')).to.equal(null);
      markResumed(ws, 'sess01', 'sess02');
      expect(resumedBy(ws, 'sess01')).to.include({ session_id: 'sess02' });
    });
  });
});
