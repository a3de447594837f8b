// One line for an OS error on choragen's own records under .choragen/ (audit
// logs, session journals, the metrics database): what went wrong in words,
// the path, and advice that fits the cause. A full disk is not fixed by
// deleting the database, nor a permission by freeing space.
import { StorageError } from '../policy/errors.js';
import { errnoCode } from '../capabilities/fs/errors.js';

export { errnoCode };

const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'a file is in the way where a directory should be',
  ENOTDIR: 'a file is in the way where a directory should be',
  EISDIR: 'it is a directory',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENOENT: 'no such file or directory',
};

/** The OS error in words, e.g. "no space left on device (ENOSPC)". */
export function errnoWords(err: unknown): string {
  const code = errnoCode(err);
  if (code && WORDS[code]) return `${WORDS[code]} (${code})`;
  if (code) return code;
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? 'unknown error';
}

/** What the user can do about it. */
export function storageAdvice(code: string | undefined): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'free some space on that file system, then run again';
    case 'EROFS':
      return 'the workspace (and its .choragen/ directory) must be on a writable file system';
    case 'EACCES':
    case 'EPERM':
      return 'check the owner and permissions of that path (and any immutable attribute)';
    case 'EEXIST':
    case 'ENOTDIR':
      return 'move that file out of the way';
    default:
      return '';
  }
}

/** True for the errors that mean "this file system will not take writes here" rather than a bug. */
export function isUnwritable(err: unknown): boolean {
  return ['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EACCES', 'EPERM', 'EEXIST', 'ENOTDIR', 'EIO'].includes(errnoCode(err) ?? '');
}

/**
 * `cannot <doing> <file>: <error in words>; <advice>`. `atStart`: found
 * before any session ran (exit 2), else the run fails (exit 1).
 */
export function storageError(err: unknown, doing: string, file: string, atStart = false): StorageError {
  if (err instanceof StorageError) return atStart && err.exitCode !== 2 ? new StorageError(err.message, err.code, true) : err;
  const code = errnoCode(err);
  const advice = storageAdvice(code);
  return new StorageError(`cannot ${doing} ${file}: ${errnoWords(err)}${advice ? `; ${advice}` : ''}`, code, atStart);
}
