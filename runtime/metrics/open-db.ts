// Opening .choragen/metrics.duckdb. A reader that finds the database up to
// date opens it read-only: DuckDB lets any number of read-only processes in at
// once, while a read-write open keeps every other process out. Only a process
// with logs to ingest (or a schema to bring up to date) opens it read-write.
// Waiting for another process's lock alternates both kinds of open, so once a
// writer is done every reader goes on together; it goes on while the holder
// shows it is working (the database, its WAL or an ingest's split files keep
// changing) and gives up after a few seconds without a sign of that: an
// ingest in progress is worth waiting for, an idle holder is not.
//
// When the database cannot be used (held too long, read-only or full disk, no
// permission, damaged), the caller is told why in one line and answers from
// the audit logs in memory: the logs are the record, the database a view.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DuckDBInstance } from '@duckdb/node-api';
import { errnoWords, storageAdvice } from '../storage-error.js';

export type DbAccess = 'read' | 'write';

export type OpenedDb = { instance: DuckDBInstance; access: DbAccess } | { unusable: string };


export function isLockError(err: unknown): boolean {
  return /Could not set lock|Conflicting lock|database is locked|lock on file/i.test(messageOf(err));
}

/** The error says the database file is not a sound DuckDB database (a bad block, a bad header, an empty file). */
export function isCorruption(err: unknown): boolean {
  return /Corrupt database|not a valid DuckDB database|checksum .* does not match|INTERNAL Error|Serialization Error/i.test(messageOf(err));
}

const ERRNO_BY_MESSAGE: Array<[RegExp, string]> = [
  [/No space left on device|ENOSPC/i, 'ENOSPC'],
  [/Disk quota exceeded|EDQUOT/i, 'EDQUOT'],
  [/Read-only file system|EROFS/i, 'EROFS'],
  [/Permission denied|EACCES/i, 'EACCES'],
  [/Operation not permitted|EPERM/i, 'EPERM'],
  [/Not a directory|ENOTDIR/i, 'ENOTDIR'],
];

/** The OS error behind a DuckDB or Node error message that says the disk will not take (or give) the file. */
export function storageErrnoOf(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ERRNO_BY_MESSAGE.some(([, c]) => c === code)) return code;
  const message = messageOf(err);
  return ERRNO_BY_MESSAGE.find(([re]) => re.test(message))?.[1] ?? null;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function firstLine(err: unknown): string {
  return messageOf(err).split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}

/**
 * Why the database cannot be used, as one line (without "answered from…"),
 * or null when `err` is not about the database file itself.
 */
export function unusableReason(err: unknown, dbPath: string, shown = dbPath): string | null {
  if (isCorruption(err)) {
    const wal = `${shown}.wal`;
    return `the metrics database ${shown} is damaged (${firstLine(err).replace(/^IO Error: /, '')}); ` +
      `it is only a view of the audit logs: remove it (rm ${shown} ${wal}) and the next metrics command rebuilds it`;
  }
  const code = storageErrnoOf(err);
  if (code) {
    const advice = storageAdvice(code);
    return `cannot write the metrics database ${shown}: ${errnoWords({ code })}${advice ? ` (${advice})` : ''}`;
  }
  return null;
}

/** The longest a command waits for another process's lock, however busy that process looks. */
const MAX_LOCK_WAIT_MS = 120_000;

/**
 * Opens the database for a command: read-only when `upToDate` says nothing
 * needs writing, else read-write, retrying while another process holds it
 * until `idleWaitMs` pass without a sign of that process working. A file
 * DuckDB created but could not finish (a full disk) is removed, and so is an
 * empty one such a failure left before: neither is a database, and either
 * would break every later command.
 */
export async function openMetricsDb(
  dbPath: string,
  idleWaitMs: number,
  upToDate: (db: DuckDBInstance) => Promise<boolean>,
  shown = dbPath,
): Promise<OpenedDb> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const started = Date.now();
  let lastActivity = started;
  for (let delay = 25; ; delay = Math.min(delay * 2, 400)) {
    if (fs.existsSync(dbPath)) {
      try {
        const ro = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
        let fresh: boolean;
        try {
          fresh = await upToDate(ro);
        } catch (err) {
          ro.closeSync();
          throw err;
        }
        if (fresh) return { instance: ro, access: 'read' };
        ro.closeSync();
      } catch {
        // Held by a writer, being made (DuckDB calls a new, still empty file one that does not exist), or
        // unusable: the read-write open below tells which.
      }
    }
    const existed = fs.existsSync(dbPath);
    try {
      return { instance: await DuckDBInstance.create(dbPath), access: 'write' };
    } catch (err) {
      // Only when the open failed for itself: on a lock error the file is another process's, maybe just being made.
      if (!isLockError(err) && !(existed && beingMade(err, dbPath))) {
        if (!existed) removeUnfinished(dbPath);
        else if (removedEmpty(dbPath)) continue;
        return { unusable: cannotOpen(err, dbPath, shown) };
      }
    }
    lastActivity = Math.max(lastActivity, latestChange(dbPath));
    const left = Math.min(lastActivity + idleWaitMs, started + MAX_LOCK_WAIT_MS) - Date.now();
    if (left <= 0) return { unusable: `the metrics database ${shown} is held by another process` };
    await sleep(Math.min(delay, left));
  }
}

function cannotOpen(err: unknown, dbPath: string, shown: string): string {
  return unusableReason(err, dbPath, shown) ?? `cannot open the metrics database ${shown}: ${firstLine(err)}`;
}

/** A file DuckDB finds no database in that changed a moment ago: another process is creating it (its header comes a moment after the file). */
function beingMade(err: unknown, dbPath: string): boolean {
  const stat = fs.statSync(dbPath, { throwIfNoEntry: false });
  return /not a valid DuckDB database/i.test(messageOf(err)) && stat !== undefined && Date.now() - stat.mtimeMs < UNFINISHED_AFTER_MS;
}

/** How long a database file that is empty or has no header may be another process's work in progress. */
const UNFINISHED_AFTER_MS = 3000;

/**
 * Removes an empty database file that nobody is making any more (older than
 * a few seconds: a process creating one writes its header at once); true if
 * it did.
 */
function removedEmpty(dbPath: string): boolean {
  const stat = fs.statSync(dbPath, { throwIfNoEntry: false });
  if (!stat || stat.size !== 0 || Date.now() - stat.mtimeMs < UNFINISHED_AFTER_MS) return false;
  removeUnfinished(dbPath);
  return !fs.existsSync(dbPath);
}

function removeUnfinished(dbPath: string): void {
  for (const f of [dbPath, `${dbPath}.wal`]) {
    try {
      fs.rmSync(f, { force: true });
    } catch {
      // a read-only disk: nothing was created there either
    }
  }
}

/** When the database, its WAL or an ingest's split files (beside it) last changed: a holder at work. */
function latestChange(dbPath: string): number {
  const dir = path.dirname(dbPath);
  const mtime = (f: string) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  let latest = Math.max(mtime(dbPath), mtime(`${dbPath}.wal`));
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith('ingest-'));
  } catch {
    // no directory: nothing changes there
  }
  for (const name of names) {
    try {
      for (const f of fs.readdirSync(path.join(dir, name))) latest = Math.max(latest, mtime(path.join(dir, name, f)));
    } catch {
      // removed meanwhile
    }
  }
  return latest;
}

export const relativeTo = (workspace: string, file: string) => path.relative(workspace, file) || file;
