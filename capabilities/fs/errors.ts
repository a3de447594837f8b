// One-line tool errors for filesystem failures: they name the
// workspace-relative path, never a host path (the OS message names host paths
// and is never shown).
import path from 'node:path';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import type { AuthorizedPath } from '../capability.js';
import { displayPath } from './output.js';

export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** An OS error as a one-line tool error about `rel` (the host message names host paths: never shown). */
export function fsError(err: unknown, rel: string, doing: string): Error {
  if (err instanceof ToolFailure || err instanceof ToolRefusal) return err;
  const shown = displayPath(rel);
  switch (errnoCode(err)) {
    case 'ENOENT':
      return new ToolFailure(`no such file: ${shown}`);
    case 'ELOOP':
      return symlinkRefusal(rel);
    case 'EISDIR':
      return new ToolFailure(`${shown} is a directory`);
    case 'ENOTDIR':
      return new ToolFailure(`a parent of ${shown} is not a directory`);
    case 'EACCES':
    case 'EPERM':
      return new ToolFailure(`permission denied: ${shown}`);
    case 'ENXIO':
      return new ToolFailure(`${shown} is not a regular file`);
    case 'ENOSPC':
      return new ToolFailure(`no space left on device while ${doing} ${shown}`);
    case 'EROFS':
      return new ToolFailure(`read-only file system: ${doing} ${shown} is not possible`);
    case 'EXDEV':
      return new ToolFailure(`cannot move ${shown} across filesystems`);
    default:
      return new ToolFailure(`${doing} ${shown} failed (${errnoCode(err) ?? 'error'})`);
  }
}

export function symlinkRefusal(rel: string): ToolRefusal {
  return new ToolRefusal(`${displayPath(rel)} is a symlink; it is not followed`, 'deny', null, rel);
}

/**
 * The model's path as written, normalized the way the canonical path is
 * (`./a//b/` → `a/b`, the root as `.`), so that a difference with `target.rel` can only mean a
 * symlink on the way (or a case-insensitive filesystem).
 */
function normalizedRequest(requested: string): string {
  // normalize first: it folds runs of slashes, so at most one is left at the end.
  const normal = path.posix.normalize(requested || '.');
  const trimmed = normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  return trimmed.replace(/^\.\//, '');
}

/**
 * Refuses a path the model gave that resolved through a symlink, for the tools
 * that act on real paths only; `acts` says what the tool does ("delete_file
 * deletes").
 */
export function refuseThroughSymlink(requested: string, target: AuthorizedPath, acts: string): void {
  const request = normalizedRequest(requested);
  if (request === target.rel) return;
  throw new ToolRefusal(
    `${request} is a symlink or goes through one (real path: ${target.rel}); ${acts} real paths only`,
    'deny',
    null,
    target.rel,
  );
}
