// A small tmpfs for the full-disk and read-only specs: real ENOSPC and EROFS
// from the kernel rather than mocks. Mounting needs root (CAP_SYS_ADMIN); where
// it is not allowed, mountTmpfs returns null and the spec skips with a message.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Fills the file system (a file named `name`) until at most `leaveBytes` are free. */
  fill(leaveBytes?: number, name?: string): string;
  /** Frees what fill() took. */
  unfill(name?: string): void;
  /** Remounts read-only (true) or read-write (false). */
  readOnly(on: boolean): void;
  unmount(): void;
}

let refusal: string | null = null;

/** Why mounting is not possible here (null when it is). */
export function tmpfsUnavailable(): string | null {
  return refusal;
}

/**
 * A fresh tmpfs of `sizeKb` KiB, on a new temp directory or on the empty
 * directory `at`; null (with tmpfsUnavailable() saying why) where mounting is
 * not allowed.
 */
export function mountTmpfs(sizeKb: number, at?: string): Tmpfs | null {
  if (refusal) return null;
  const dir = at ?? mkdtempSync(path.join(os.tmpdir(), 'choragen-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    if (at === undefined) rmSync(dir, { recursive: true, force: true });
    refusal = `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n')[0]}); needs root`;
    return null;
  }
  const mount = (opts: string) => execFileSync('mount', ['-o', `remount,${opts}`, dir], { stdio: 'pipe' });
  return {
    dir,
    fill(leaveBytes = 0, name = '.filler') {
      const file = path.join(dir, name);
      const fd = openSync(file, 'a');
      try {
        const page = Buffer.alloc(4096, 0x2e);
        for (;;) {
          const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
          if (free <= leaveBytes) break;
          try {
            writeSync(fd, page, 0, Math.min(page.length, free - leaveBytes));
          } catch {
            break; // full
          }
        }
      } finally {
        closeSync(fd);
      }
      return file;
    },
    unfill(name = '.filler') {
      rmSync(path.join(dir, name), { force: true });
    },
    readOnly(on) {
      mount(on ? 'ro' : 'rw');
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } finally {
        if (at === undefined) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
