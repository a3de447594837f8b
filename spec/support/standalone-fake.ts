// Start a fake model server as its own process, as the demo and a user would,
// and stop it the way they would (SIGTERM), collecting what it printed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Script } from '../../runtime/providers/script/format.js';

export interface StandaloneFake {
  /** The URL from its `listening <url>` line. */
  url: string;
  /** SIGTERM, then its exit code and everything it printed on stdout. */
  stop(): Promise<{ code: number | null; stdout: string }>;
}

/** `file` is the compiled module's name beside this one, e.g. `fake-anthropic.js`. */
export async function startStandaloneFake(file: string, script: Script, args: string[] = []): Promise<StandaloneFake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standalone-fake-'));
  const scriptFile = path.join(dir, 'script.json');
  fs.writeFileSync(scriptFile, JSON.stringify(script));
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), file);
  const child = spawn(process.execPath, [entry, '--script', scriptFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const cleanUp = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        const m = /^listening (\S+)$/m.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`${file} exited with ${code}: ${stderr.trim()}`)));
    });
    return {
      url,
      stop: async () => {
        child.kill('SIGTERM');
        const code = await exited;
        cleanUp();
        return { code, stdout };
      },
    };
  } catch (err) {
    cleanUp();
    throw err;
  }
}
