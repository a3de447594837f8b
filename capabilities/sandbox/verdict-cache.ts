// The probe's good verdicts, remembered per user for a day, so a run does not
// pay a bubblewrap self-test before its first session on every start. An entry
// is keyed by what the verdict depends on: the bwrap binary (path, inode, size,
// time), the kernel, the user and the probe's own format; any change, or a
// command whose sandbox would not start (forgetSandboxVerdicts), sends the next
// start back to the probe. Only "it works" is remembered: a refusal is probed
// again each time, so its diagnosis is current. A forged entry could only claim
// that bubblewrap works: every command still runs under bubblewrap, found in a
// system directory, and fails if it does not.
//
// The file lives in the user's cache directory, outside any workspace (a
// session cannot reach it). Like host.ts, node:fs here never touches the workspace.

import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Bump when the probe or the flags it checks change: older entries no longer count. */
const PROBE_FORMAT = 2;
const KEEP_MS = 24 * 60 * 60 * 1000;

interface Entry { key: string; version: string; at: number }

function cacheFile(): string {
  const base = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'choragen', 'sandbox-verdicts.json');
}

/** What a good verdict for `bwrap` depends on, or null when that cannot be read. */
export async function verdictKey(bwrap: string): Promise<string | null> {
  try {
    const st = await fsp.stat(bwrap);
    return JSON.stringify([PROBE_FORMAT, bwrap, st.ino, st.size, st.mtimeMs, os.release(), process.getuid?.() ?? -1]);
  } catch {
    return null;
  }
}

async function entries(): Promise<Entry[]> {
  try {
    const parsed = JSON.parse(await fsp.readFile(cacheFile(), 'utf8')) as unknown;
    return Array.isArray(parsed)
      ? parsed.filter((e): e is Entry => typeof e?.key === 'string' && typeof e?.version === 'string' && typeof e?.at === 'number')
      : [];
  } catch {
    return [];
  }
}

async function save(list: Entry[]): Promise<void> {
  const file = cacheFile();
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fsp.writeFile(tmp, JSON.stringify(list), { mode: 0o600 });
    await fsp.rename(tmp, file);
  } catch {
    // a cache: without it, the next start probes again
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** The bubblewrap version of a good verdict remembered for `key`, if one is fresh. */
export async function rememberedVersion(key: string): Promise<string | null> {
  const now = Date.now();
  const hit = (await entries()).find((e) => e.key === key && now - e.at >= 0 && now - e.at < KEEP_MS);
  return hit?.version ?? null;
}

export async function rememberVerdict(key: string, version: string): Promise<void> {
  const now = Date.now();
  const kept = (await entries()).filter((e) => e.key !== key && now - e.at < KEEP_MS);
  await save([...kept, { key, version, at: now }]);
}

/** Drops every remembered verdict (a sandbox that would not start): the next start probes again. */
export async function forgetSandboxVerdicts(): Promise<void> {
  if ((await entries()).length > 0) await save([]);
}
