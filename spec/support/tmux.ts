// A real terminal for specs: a private tmux server (its own socket, no user
// configuration) running one command in a window of a given size. Panes stay
// after the command exits, so its last screen and scrollback can be read; the
// exit status is written to a file by the shell around the command (tmux, busy,
// can be late to notice that a pane's process ended). Everything waits by
// polling with a deadline, never by a fixed sleep.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv } from './cli.js';

export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
}

export class TmuxTerminal {
  private readonly socket = `choragen-spec-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly statusFile = path.join(os.tmpdir(), `${this.socket}.status`);

  private constructor() {}

  /** Starts `argv` (run by sh in `cwd`) in a `columns` x `rows` window. */
  static start(argv: string[], opts: { cwd: string; columns: number; rows: number; env?: Record<string, string | undefined> }): TmuxTerminal {
    const t = new TmuxTerminal();
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    // The shell outlives a Ctrl-C meant for the command (a handler, unlike an ignore, is not inherited) and records its status.
    const command = `trap true INT; ${argv.map(quote).join(' ')}; echo $? > ${quote(t.statusFile)}`;
    t.tmux(['-f', '/dev/null', 'new-session', '-d', '-s', 'spec', '-x', String(opts.columns), '-y', String(opts.rows), '-c', opts.cwd, command,
      ';', 'set-option', '-g', 'remain-on-exit', 'on', ';', 'set-option', '-g', 'history-limit', '50000'], opts.env);
    return t;
  }

  private tmux(args: string[], env?: Record<string, string | undefined>): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: cleanEnv({ TERM: 'xterm-256color', ...env }) });
    if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** The visible screen, one string per row. */
  screen(): string[] {
    return this.tmux(['capture-pane', '-p', '-t', 'spec']).split('\n');
  }

  /** Scrollback and screen. */
  everything(): string[] {
    return this.tmux(['capture-pane', '-p', '-S', '-', '-E', '-', '-t', 'spec']).split('\n');
  }

  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'spec', ...keys]);
  }

  resize(columns: number, rows: number): void {
    this.tmux(['resize-window', '-t', 'spec', '-x', String(columns), '-y', String(rows)]);
  }

  /** The command's exit status once it has ended, else null. */
  exitStatus(): number | null {
    let text: string;
    try {
      text = readFileSync(this.statusFile, 'utf8');
    } catch {
      return null;
    }
    return /^\d+\n$/.test(text) ? Number(text) : null;
  }

  /** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
  async until<T>(what: string, check: () => T | undefined | false, deadlineMs = 30_000): Promise<T> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const value = check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${this.screen().join('\n')}`);
      await sleep(50);
    }
  }

  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { encoding: 'utf8' });
    rmSync(this.statusFile, { force: true });
    // tmux leaves the socket file behind when its server is killed.
    const dir = path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`);
    rmSync(path.join(dir, this.socket), { force: true });
  }
}
