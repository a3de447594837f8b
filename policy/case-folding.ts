// Case-insensitive workspaces (macOS's and Windows' default filesystems, a
// Linux casefold directory): there `.GIT/hooks/x` is `.git/hooks/x`, so a
// rule written for `.git/**` must see it. canonical.ts keeps the spelling it
// was given (that is what the model and the audit log show); decisions on
// such a workspace are made on the folded spelling, against folded patterns.
import { closeSync, constants, lstatSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';

/** Code points HFS+ ignores in a name (`.g\u200cit` is `.git` there). */
const IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** Case and Unicode normalization folded, as a case-folding filesystem compares names. */
export function foldCase(text: string): string {
  return text.normalize('NFD').replace(IGNORABLE, '').toUpperCase().toLowerCase();
}

/**
 * The spelling a case-folding filesystem treats as the same path: case and
 * normalization folded, ignorable code points dropped, and trailing dots and
 * spaces of each name dropped (Windows treats `.git.` as `.git`).
 */
export function foldPath(rel: string): string {
  return foldCase(rel)
    .split('/')
    .map((name) => (name === '.' || name === '..' ? name : name.replace(/[. ]+$/, '') || name))
    .join('/');
}

function swapCase(name: string): string {
  let out = '';
  for (const ch of name) out += ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
  return out;
}

/** Whether `a` and `b` name the same entry (lstat: a symlink is compared, not followed). */
function sameEntry(a: string, b: string): boolean {
  try {
    const x = lstatSync(a, { bigint: true });
    const y = lstatSync(b, { bigint: true });
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

const known = new Map<string, boolean>();

/**
 * Whether the workspace at `root` (a real path) folds case. Probed once per
 * root: a probe file created in `.choragen/` and looked up by its
 * case-swapped name; without `.choragen/`, an existing entry of the root
 * whose name has letters.
 */
export function workspaceFoldsCase(root: string): boolean {
  let folds = known.get(root);
  if (folds === undefined) known.set(root, (folds = probe(root)));
  return folds;
}

function probe(root: string): boolean {
  const state = path.join(root, '.choragen');
  const name = `case-probe-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const file = path.join(state, name);
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600));
    try {
      return sameEntry(file, path.join(state, swapCase(name)));
    } finally {
      unlinkSync(file);
    }
  } catch {
    // no writable .choragen/: compare an existing name with its case swapped
  }
  try {
    for (const entry of readdirSync(root)) {
      const swapped = swapCase(entry);
      if (swapped !== entry) return sameEntry(path.join(root, entry), path.join(root, swapped));
    }
  } catch {
    // unreadable root: the broker fails on it soon enough
  }
  return false;
}
