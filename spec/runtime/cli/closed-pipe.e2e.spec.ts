// Output piped into a reader that stops early (`choragen agent:list | head -1`)
// ends the command quietly, as git's or grep's would: no stack trace, no
// "internal error", the command's own exit code.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { CLI, TEST_POLICY, cleanEnv, makeWorkspace, removeWorkspace } from '../../support/cli.js';

/** Runs the CLI with its stdout's reader already gone; its exit code and what it said on stderr. */
function withClosedStdout(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the child (still starting Node) writes its first byte: every write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a reader that stops early', () => {
  let ws: string;
  before(() => {
    ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY });
  });
  after(() => removeWorkspace(ws));

  for (const args of [['--help'], ['capabilities:manifest'], ['policy:check', '--role', 'impl', '--action', 'modify', 'src/a.ts']]) {
    it(`choragen ${args.join(' ')} | head: exits 0 and says nothing`, async () => {
      const r = await withClosedStdout(args, ws);
      expect(r.stderr).to.equal('');
      expect(r.code).to.equal(0);
    });
  }
});
