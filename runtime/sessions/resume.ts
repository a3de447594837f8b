// Resuming a session exactly once.
// - The conversation continues from what was actually done: each tool call of
//   the last turn gets its recorded result, and one without a recorded result
//   is reported to the model as interrupted (its effect may or may not have
//   happened), never run again.
// - One resume of a session at a time: a lock file names the process holding
//   it; a lock whose process is gone (killed) is taken over.
// - A session that was resumed records by whom (<id>.resumed.json), so a later
//   resume of it points at the session that carried on instead of redoing it.
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Message, ToolResultBlock, ToolUseBlock } from '../../capabilities/protocol.js';
import { UsageError } from '../../policy/errors.js';
import { writerAlive } from '../audit/process-liveness.js';
import { workspacePaths } from '../paths.js';
import { errnoCode, storageError } from '../storage-error.js';
import { type SavedSession, assertSessionId, writeFileWhole } from './transcripts.js';

export const RESUMED_NOTE = 'The session was resumed. Continue where you left off.';

/** What the model reads for a call of the last turn whose result was never recorded. */
export function interruptedResult(use: ToolUseBlock): ToolResultBlock {
  const input = use.input as { path?: unknown } | null;
  const where = typeof input?.path === 'string' ? ` on ${input.path}` : '';
  return {
    type: 'tool_result',
    tool_use_id: use.id,
    is_error: true,
    content:
      `interrupted: the session stopped while ${String(use.name)}${where} was running, and its result was not recorded; ` +
      'its effect may or may not have happened. Check the current state (read the file, list the directory) before you try it again.',
  };
}

/** The conversation a resumed session continues from. Pure. */
export function continuation(saved: Pick<SavedSession, 'messages' | 'tool_results'>): Message[] {
  const out = [...saved.messages];
  const last = out[out.length - 1];
  if (last?.role !== 'assistant') return out;
  const uses = Array.isArray(last.content) ? last.content.filter((b): b is ToolUseBlock => b.type === 'tool_use') : [];
  if (uses.length === 0) {
    out.push({ role: 'user', content: RESUMED_NOTE });
    return out;
  }
  const recorded = new Map((saved.tool_results ?? []).map((r) => [r.tool_use_id, r]));
  out.push({ role: 'user', content: uses.map((use) => recorded.get(use.id) ?? interruptedResult(use)) });
  return out;
}

// --- who resumed a session -------------------------------------------------------

export interface ResumedBy { session_id: string; at: string }

function resumedFile(workspace: string, id: string): string {
  assertSessionId(id);
  return path.join(workspacePaths(workspace).sessions, `${id}.resumed.json`);
}

/** Records that session `from` is being continued by session `by` (written whole: temp file and rename). */
export function markResumed(workspace: string, from: string, by: string): void {
  const file = resumedFile(workspace, from);
  try {
    writeFileWhole(file, JSON.stringify({ session_id: by, at: new Date().toISOString() } satisfies ResumedBy));
  } catch (err) {
    throw storageError(err, 'record the resume in', file, true);
  }
}

/** The session that continued `id`, if one did. */
export function resumedBy(workspace: string, id: string): ResumedBy | null {
  try {
    const v = JSON.parse(readFileSync(resumedFile(workspace, id), 'utf8')) as Partial<ResumedBy>;
    return typeof v.session_id === 'string' ? { session_id: v.session_id, at: String(v.at ?? '') } : null;
  } catch {
    return null;
  }
}

// --- one resume at a time ------------------------------------------------------------

interface LockOwner { pid: number; since: string }

function lockFile(workspace: string, id: string): string {
  assertSessionId(id);
  return path.join(workspacePaths(workspace).sessions, `${id}.resume.lock`);
}

export class ResumeLock {
  private released = false;
  private constructor(private readonly file: string) {}

  /**
   * Takes the lock on resuming `id`, or refuses (exit 2) while a live
   * process holds it. The lock file is made whole before it appears (a temp
   * file hard-linked into place), so a reader never sees it half written.
   */
  static acquire(workspace: string, id: string): ResumeLock {
    const file = lockFile(workspace, id);
    const mine = JSON.stringify({ pid: process.pid, since: new Date().toISOString() } satisfies LockOwner);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, mine);
    } catch (err) {
      throw storageError(err, 'create the resume lock', tmp, true);
    }
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          linkSync(tmp, file);
          return new ResumeLock(file);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw storageError(err, 'create the resume lock', file, true);
        }
        const held = readText(file);
        if (held === null) continue; // released meanwhile: try again
        const owner = parseOwner(held);
        if (owner && writerAlive(owner.pid, owner.since)) {
          throw new UsageError(`session ${id} is already being resumed by process ${owner.pid} (since ${owner.since}); wait for that run to end`);
        }
        takeOverStale(file, held);
      }
      throw new UsageError(`could not take the resume lock ${file}: other processes keep taking it; try again`);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    rmSync(this.file, { force: true });
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    return Number.isInteger(v.pid) && typeof v.since === 'string' ? { pid: v.pid!, since: v.since } : null;
  } catch {
    return null;
  }
}

/** A takeover guard older than this was left by a process killed inside takeOverStale (it holds it for microseconds). */
const GUARD_STALE_MS = 5000;

/**
 * Removes a lock left by a process that is gone. Only the holder of a guard
 * file (made with O_EXCL) removes a lock that is not its own, and it removes
 * it only if it still holds the stale text: a lock's text changes only by
 * removal and a new link, and no one else removes, so between that check and
 * the removal no live lock can take the stale one's place. Two processes
 * moving the lock aside at once (the earlier way) could each think they held it.
 */
function takeOverStale(file: string, staleText: string): void {
  const guard = `${file}.takeover`;
  try {
    writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw storageError(err, 'take over the resume lock', guard, true);
    const age = Date.now() - (statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > GUARD_STALE_MS) rmSync(guard, { force: true });
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // let it finish
    return; // another process is taking it over: the caller looks again
  }
  try {
    if (readText(file) === staleText) rmSync(file, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}
