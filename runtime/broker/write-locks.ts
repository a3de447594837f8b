// Serializes writes to one path across parallel sessions and refuses a write
// whose base is stale: the file changed since the writing session last saw it
// (read or wrote it), or another session of this run wrote it after the
// writing session started and the writer has not looked at it since.
// A command (run_command) takes the whole workspace: it waits for the writes
// in progress, and writes and other commands wait for it.
import type { BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ToolRefusal } from '../../policy/errors.js';

export type Version = string; // "absent" or ino:size:mtimeNs

/** The version of a file from its stats (a stat of the path or an fstat of an open handle). */
export function versionFromStats(s: BigIntStats): Version {
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

async function versionOf(abs: string): Promise<Version> {
  try {
    return versionFromStats(await stat(abs, { bigint: true }));
  } catch {
    return 'absent';
  }
}

export class WriteRegistry {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly seen = new Map<string, Map<string, Version>>(); // session -> abs -> version
  private readonly lastWriter = new Map<string, { session: string; atMs: number }>();
  /** Set while a command holds the workspace: every write waits for it. */
  private gate: Promise<void> | null = null;
  /** The commands holding or waiting for the workspace, in order. */
  private commands: Promise<unknown> = Promise.resolve();

  /**
   * Note the version of `abs` this session has seen. `known`: stats the caller
   * already took of the content it shows (an fstat of its open handle), which
   * saves a second stat and cannot name a newer version than the one read.
   */
  async observe(session: string, abs: string, known?: BigIntStats): Promise<void> {
    this.observeVersion(session, abs, known ? versionFromStats(known) : await versionOf(abs));
  }

  observeVersion(session: string, abs: string, version: Version): void {
    this.viewOf(session).set(abs, version);
  }

  /** Run `effect` holding the lock of `abs`; refuses if the caller's base is stale. */
  async write<T>(session: string, sessionStartMs: number, rel: string, abs: string, effect: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    const previous = this.locks.get(abs) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    this.locks.set(abs, chained);
    await previous;
    try {
      const current = await versionOf(abs);
      const view = this.viewOf(session);
      const base = view.get(abs);
      const other = this.lastWriter.get(abs);
      const staleSeen = base !== undefined && base !== current;
      const staleUnseen = base === undefined && other !== undefined && other.session !== session && other.atMs >= sessionStartMs;
      if (staleSeen || staleUnseen) {
        throw new ToolRefusal(`${rel} changed since this session last read it (another session wrote it); read it again, then retry the change`, 'deny', 'stale-base', rel);
      }
      const result = await effect();
      view.set(abs, await versionOf(abs));
      this.lastWriter.set(abs, { session, atMs: performance.now() });
      return result;
    } finally {
      release();
      if (this.locks.get(abs) === chained) this.locks.delete(abs);
    }
  }

  /**
   * Run `effect` with the workspace to itself: after every write in progress,
   * before any write or command asked for later.
   */
  exclusive<T>(effect: () => Promise<T>): Promise<T> {
    const turn = this.commands.then(async () => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      this.gate = gate;
      try {
        // Writes that passed the gate registered their lock in the same tick.
        await Promise.all([...this.locks.values()].map((p) => p.catch(() => undefined)));
        return await effect();
      } finally {
        this.gate = null;
        open();
      }
    });
    this.commands = turn.catch(() => undefined);
    return turn;
  }

  /**
   * A file changed by a session other than through write(): a command it ran.
   * Its version becomes what the session has seen, and other sessions see the
   * session as its last writer.
   */
  async changedBy(session: string, abs: string): Promise<void> {
    this.viewOf(session).set(abs, await versionOf(abs));
    this.lastWriter.set(abs, { session, atMs: performance.now() });
  }

  private viewOf(session: string): Map<string, Version> {
    let view = this.seen.get(session);
    if (!view) this.seen.set(session, (view = new Map()));
    return view;
  }
}
