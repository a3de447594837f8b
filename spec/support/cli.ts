// Run the real CLI as a child process, and make throwaway workspaces.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../runtime/paths.js';

/** What users run: package.json's `bin`, the esbuild bundle (scripts/bundle.mjs). */
export const CLI = path.join(packageRoot, JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).bin.choragen);

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  /** Called once the child is running (e.g. to send it a signal later). */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

/** The environment of a CLI run: no real API keys, no real base URLs unless given. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ANTHROPIC_API_KEY;
  delete env.ANTHROPIC_BASE_URL;
  delete env.OPENAI_API_KEY;
  delete env.OPENAI_BASE_URL;
  delete env.CHORAGEN_MODEL;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    opts.onSpawn?.(child);
    child.stdin.end(opts.input ?? '');
  });
}

/** A temp workspace with the given files (relative path -> content). */
export function makeWorkspace(files: Record<string, string | Buffer> = {}): string {
  const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-ws-')));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  return root;
}

export function removeWorkspace(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** JSON lines of a --json run. */
export function jsonEvents(stdout: string): any[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** The policy most end-to-end specs use (DESIGN.md §4 format). */
export const TEST_POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*", reason: "secrets are never written" }
    - { pattern: ".git/**" }
    - { pattern: "choragen.governance.yaml", reason: "a session must not edit its own policy" }
    - { pattern: ".choragen/**" }
reads:
  deny:
    - { pattern: "**/.env*", reason: "secrets are never read" }
    - { pattern: "**/*.key" }
    - { pattern: ".choragen/**" }
roles:
  impl:
    allow:
      - { pattern: "src/**", actions: [create, modify, delete, move] }
      - { pattern: "test/**", actions: [create, modify, delete, move] }
  control:
    allow:
      - { pattern: "docs/**" }
limits: { max_depth: 2, max_parallel: 4 }
`;

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2));
}
