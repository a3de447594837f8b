// `mkdir -p` that cannot spin: Node's recursive mkdirSync loops forever under
// /proc (every mkdir there says ENOENT, so it keeps retrying the parent).
// This one walks up to the nearest existing ancestor once, then makes each
// missing directory in turn, and throws the first OS error it meets.
import fs from 'node:fs';
import path from 'node:path';

export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    const stat = fs.statSync(at, { throwIfNoEntry: false });
    if (stat) {
      if (!stat.isDirectory()) throw Object.assign(new Error(`not a directory: ${at}`), { code: 'ENOTDIR', path: at });
      break;
    }
    missing.push(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      // made meanwhile by someone else: fine if it is a directory
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(d).isDirectory()) throw err;
    }
  }
}
