// Which audit log holds a session, as agent:show finds sessions: by the id a
// log is named after (a run's first session), by a unique prefix of it, or by
// any session the log records (a child, a resumed session), id or prefix.
import fs from 'node:fs';
import path from 'node:path';
import { auditLogFiles } from './log.js';

export type FoundLog = { file: string; sessionId: string } | { ambiguous: string[] } | null;

export function findAuditLog(workspace: string, id: string): FoundLog {
  const files = auditLogFiles(workspace);
  const name = (f: string) => path.basename(f, '.jsonl');
  const exact = files.find((f) => name(f) === id);
  if (exact) return { file: exact, sessionId: id };
  const byName = files.filter((f) => name(f).startsWith(id));
  if (byName.length === 1) return { file: byName[0]!, sessionId: name(byName[0]!) };
  if (byName.length > 1) return { ambiguous: byName.map(name) };
  // Sessions a log records: its session_started lines. JSON escapes no id character, so a plain search finds them.
  const found = new Map<string, string>();
  const needle = `"session_id":"${id}`;
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at);
      const line = text.slice(start, end < 0 ? undefined : end);
      if (!line.includes('"type":"session_started"')) continue;
      try {
        const sid = (JSON.parse(line) as { session_id: string }).session_id;
        if (sid.startsWith(id)) found.set(sid, file);
      } catch {
        // a damaged line is audit:verify's to report, not this search's
      }
    }
  }
  if (found.size === 1) {
    const [[sessionId, file]] = [...found];
    return { file: file!, sessionId: sessionId! };
  }
  return found.size > 1 ? { ambiguous: [...found.keys()].sort() } : null;
}
