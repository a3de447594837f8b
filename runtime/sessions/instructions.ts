// The first line of what a session was asked to do, for agent:list: read from
// the head of its transcript journal (.choragen/sessions/<id>.jsonl), whose
// second line holds the first message, without reading the whole transcript.
import fs from 'node:fs';
import { withoutSessionFacts } from '../broker/system-prompt.js';
import { transcriptFile } from './transcripts.js';

const HEAD_BYTES = 64 * 1024;

export function firstInstructionLine(workspace: string, sessionId: string): string | null {
  // Ids come from the metrics tables: only a plain id names a transcript.
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(sessionId)) return null;
  let head: string;
  try {
    const fd = fs.openSync(transcriptFile(workspace, sessionId, 'jsonl'), 'r');
    try {
      const buf = Buffer.alloc(HEAD_BYTES);
      head = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, HEAD_BYTES, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
  for (const line of head.split('\n')) {
    let entry: { message?: { role?: string; content?: unknown } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // the header, or a line cut at HEAD_BYTES
    }
    if (entry.message?.role !== 'user') continue;
    const content = entry.message.content;
    const text = withoutSessionFacts(typeof content === 'string' ? content
      : Array.isArray(content) ? content.map((b: { text?: unknown }) => (typeof b?.text === 'string' ? b.text : '')).join('\n') : '');
    // A task's first message carries the task file first; the instructions follow their heading.
    const marker = text.indexOf('## Instructions\n');
    const body = marker >= 0 ? text.slice(marker + '## Instructions\n'.length) : text;
    return body.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? null;
  }
  return null;
}
