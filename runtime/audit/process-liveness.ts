// Is the process that wrote an audit log still running? A pid alone is not
// enough: pids are reused, so on Linux the process must also have started no
// later than the log line that named it. Pure reads of /proc; no signals sent
// (kill with signal 0 only asks).
import fs from 'node:fs';

let bootTimeMs: number | null | undefined;

function readBootTimeMs(): number | null {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    bootTimeMs = m ? Number(m[1]) * 1000 : null;
  } catch {
    bootTimeMs = null;
  }
  return bootTimeMs;
}

/** When the process started (ms since the epoch), where /proc tells; null elsewhere. */
export function processStartMs(pid: number): number | null {
  const boot = readBootTimeMs();
  if (boot === null) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks since boot) counts after the ")" that ends the command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    // USER_HZ is 100 on every Linux that Node supports.
    return Number.isFinite(ticks) ? boot + ticks * 10 : null;
  } catch {
    return null;
  }
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while process `pid`, which wrote a log line at `sinceIso`, still runs.
 * A process with that pid that started after the line is a different one.
 */
export function writerAlive(pid: number, sinceIso: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!exists(pid)) return false;
  const started = processStartMs(pid);
  const since = Date.parse(sinceIso);
  // btime and starttime are coarse (1 s, 10 ms): allow 2 s of slack.
  return started === null || Number.isNaN(since) || started <= since + 2000;
}
