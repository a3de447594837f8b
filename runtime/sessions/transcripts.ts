// Session transcripts for agent:resume, under .choragen/sessions/.
// While a session runs, each turn's new messages are appended to <id>.jsonl
// (whole lines, so a crash leaves every complete turn readable and the cost
// per turn does not grow with the transcript). When the session ends, the
// whole record is written to <id>.json through a temp file and a rename.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { SessionIdentity } from '../../capabilities/capability.js';
import type { Message } from '../../capabilities/protocol.js';
import { UsageError } from '../../policy/errors.js';
import { workspacePaths } from '../paths.js';

export interface SavedSession {
  identity: SessionIdentity;
  tools: string[];
  envelope: string[];
  model: string;
  /** The provider its model calls went to (absent in transcripts written before roles had providers). */
  provider?: string;
  status: string;
  error: string | null;
  messages: Message[];
  saved_at: string;
}

type Header = Pick<SavedSession, 'identity' | 'tools' | 'envelope' | 'model' | 'provider'>;

export function transcriptFile(workspace: string, sessionId: string, ext: 'json' | 'jsonl' = 'json'): string {
  return path.join(workspacePaths(workspace).sessions, `${sessionId}.${ext}`);
}

export class TranscriptWriter {
  private fd: number | null;
  private written = 0;

  constructor(private readonly workspace: string, private readonly header: Header) {
    const file = transcriptFile(workspace, header.identity.id, 'jsonl');
    mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'a');
    this.line({ header });
  }

  /** Append the messages of `transcript` not yet written. */
  sync(transcript: readonly Message[]): void {
    for (; this.written < transcript.length; this.written++) this.line({ message: transcript[this.written] });
  }

  /** Final record: the whole session, written atomically; the journal is closed. */
  finish(transcript: readonly Message[], status: string, error: string | null): void {
    this.sync(transcript);
    this.line({ end: { status, error } });
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    const saved: SavedSession = { ...this.header, status, error, messages: [...transcript], saved_at: new Date().toISOString() };
    const file = transcriptFile(this.workspace, this.header.identity.id);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(saved));
    renameSync(tmp, file);
  }

  private line(value: unknown): void {
    if (this.fd !== null) writeSync(this.fd, JSON.stringify(value) + '\n');
  }
}

/** The saved session: its final record, or (after a crash) what its journal holds. */
export function loadTranscript(workspace: string, sessionId: string): SavedSession {
  if (!/^[A-Za-z0-9_-]+$/.test(sessionId)) throw new UsageError(`not a session id: ${sessionId}`);
  try {
    return JSON.parse(readFileSync(transcriptFile(workspace, sessionId), 'utf8')) as SavedSession;
  } catch {
    // no final record: rebuild from the journal
  }
  let text: string;
  try {
    text = readFileSync(transcriptFile(workspace, sessionId, 'jsonl'), 'utf8');
  } catch {
    throw new UsageError(`no saved session ${sessionId} in ${workspacePaths(workspace).sessions} (see \`choragen agent:list\`)`);
  }
  let header: Header | null = null;
  const messages: Message[] = [];
  let end: { status: string; error: string | null } | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let entry: { header?: Header; message?: Message; end?: { status: string; error: string | null } };
    try {
      entry = JSON.parse(line);
    } catch {
      break; // a torn last line after a crash: everything before it is whole
    }
    if (entry.header) header = entry.header;
    else if (entry.message) messages.push(entry.message);
    else if (entry.end) end = entry.end;
  }
  if (!header) throw new UsageError(`the saved session ${sessionId} is unreadable`);
  return {
    ...header, messages, saved_at: new Date().toISOString(),
    status: end?.status ?? 'interrupted',
    error: end?.error ?? 'the process ended before the session did',
  };
}
