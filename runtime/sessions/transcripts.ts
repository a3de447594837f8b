// Session transcripts for agent:resume, under .choragen/sessions/.
// While a session runs, its journal <id>.jsonl gets whole lines: the header,
// the process that writes it, each message, and each tool result as soon as
// the broker has it (before the reply reaches the session, so a kill after a
// tool's effect never loses its result). When the session ends, the whole
// record is written to <id>.json through a temp file and a rename.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SessionIdentity } from '../../capabilities/capability.js';
import type { Message, ToolResultBlock } from '../../capabilities/protocol.js';
import { UsageError } from '../../policy/errors.js';
import { workspacePaths } from '../paths.js';
import { writerAlive } from '../audit/process-liveness.js';
import { writeLine } from '../audit/log.js';
import { storageError } from '../storage-error.js';

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
  /**
   * Results of the last assistant message's tool calls that were recorded
   * but are not in `messages` yet (the session stopped before sending them
   * to the model).
   */
  tool_results?: ToolResultBlock[];
  /** The process that wrote the journal, when it is still running (status 'running'). */
  writer?: JournalWriter | null;
  /**
   * A journal line (1-based) that is not a whole entry yet has lines after it:
   * the journal was damaged, not cut short by a crash, and what the session
   * did after that line is unknown (resume refuses).
   */
  damaged_line?: number;
  saved_at: string;
}

export interface JournalWriter { pid: number; since: string }

type Header = Pick<SavedSession, 'identity' | 'tools' | 'envelope' | 'model' | 'provider'>;

/** One line of the journal. */
interface JournalEntry {
  header?: Header;
  writer?: JournalWriter;
  message?: Message;
  tool_result?: ToolResultBlock;
  /** The whole transcript after a compaction: it replaces every message before it. */
  compacted?: readonly Message[];
  end?: { status: string; error: string | null };
}

const SESSION_ID = /^[A-Za-z0-9_-]+$/;

/** A session id names files under .choragen/sessions/: nothing but letters, digits, - and _. */
/** Writes `text` to `file` whole or not at all: a temp file beside it, renamed over it (removed on failure). */
export function writeFileWhole(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function assertSessionId(sessionId: string): void {
  if (!SESSION_ID.test(sessionId)) throw new UsageError(`not a session id: ${sessionId}`);
}

export function transcriptFile(workspace: string, sessionId: string, ext: 'json' | 'jsonl' = 'json'): string {
  return path.join(workspacePaths(workspace).sessions, `${sessionId}.${ext}`);
}

export class TranscriptWriter {
  private fd: number | null = null;
  /** Where the journal's last whole line ends: a failed write is cut back to here. */
  private size = 0;
  private written = 0;
  /** Tool results of the last assistant message not yet part of a synced message, by tool_use id. */
  private readonly pending = new Map<string, ToolResultBlock>();
  private failed = false;

  /**
   * `onError`: called once with a StorageError when a write fails (a full
   * disk); the journal then writes nothing more. Without it, writes throw.
   */
  constructor(
    private readonly workspace: string,
    private readonly header: Header,
    private readonly onError?: (err: Error) => void,
  ) {
    const file = transcriptFile(workspace, header.identity.id, 'jsonl');
    this.guard('create the session journal', file, () => {
      mkdirSync(path.dirname(file), { recursive: true });
      this.fd = openSync(file, 'a');
      this.size = fstatSync(this.fd).size;
    });
    this.line({ header });
    this.line({ writer: { pid: process.pid, since: new Date().toISOString() } });
  }

  /** Append the messages of `transcript` not yet written. */
  sync(transcript: readonly Message[]): void {
    for (; this.written < transcript.length; this.written++) {
      const message = transcript[this.written]!;
      if (message.role === 'assistant') this.pending.clear();
      this.line({ message });
    }
  }

  /** A tool result, the moment it exists: resume never runs that call again. */
  toolResult(result: ToolResultBlock): void {
    this.pending.set(result.tool_use_id, result);
    this.line({ tool_result: result });
  }

  /**
   * The conversation was compacted to fit the context window: the compacted
   * transcript goes in whole, as one line that replaces every message before
   * it (see replayJournal), so a resume continues from what the model saw.
   */
  compacted(transcript: readonly Message[]): void {
    this.line({ compacted: transcript });
    this.written = transcript.length;
    this.pending.clear(); // the compacted transcript holds every result so far
  }

  /** Final record: the whole session, written atomically; the journal is closed. */
  finish(transcript: readonly Message[], status: string, error: string | null): void {
    this.sync(transcript);
    this.line({ end: { status, error } });
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    if (this.failed) return;
    const saved: SavedSession = {
      ...this.header, status, error, messages: [...transcript], tool_results: [...this.pending.values()], saved_at: new Date().toISOString(),
    };
    const file = transcriptFile(this.workspace, this.header.identity.id);
    this.guard('write the session record', file, () => writeFileWhole(file, JSON.stringify(saved)));
  }

  private line(value: JournalEntry): void {
    const fd = this.fd;
    if (fd === null || this.failed) return;
    this.guard('write the session journal', transcriptFile(this.workspace, this.header.identity.id, 'jsonl'), () => {
      const line = JSON.stringify(value) + '\n';
      try {
        writeLine(fd, line);
      } catch (err) {
        // The journal keeps whole lines only: a line cut short by a full disk is taken back.
        try {
          ftruncateSync(fd, this.size);
        } catch {
          // a torn last line is what a crash leaves too: loading ignores it
        }
        throw err;
      }
      this.size += Buffer.byteLength(line);
    });
  }

  private guard(doing: string, file: string, write: () => void): void {
    if (this.failed) return;
    try {
      write();
    } catch (err) {
      const failure = storageError(err, doing, file);
      if (!this.onError) throw failure;
      this.failed = true;
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      this.onError(failure);
    }
  }
}

/** The saved session: its final record, or (after a crash) what its journal holds. */
export function loadTranscript(workspace: string, sessionId: string): SavedSession {
  const saved = findTranscript(workspace, sessionId);
  if (!saved) throw new UsageError(`no saved session ${sessionId} in ${workspacePaths(workspace).sessions} (see \`choragen agent:list\`)`);
  return saved;
}

/** Like loadTranscript, but null when the session left no transcript. */
export function findTranscript(workspace: string, sessionId: string): SavedSession | null {
  assertSessionId(sessionId);
  try {
    return JSON.parse(readFileSync(transcriptFile(workspace, sessionId), 'utf8')) as SavedSession;
  } catch {
    // no final record: rebuild from the journal
  }
  const journal = transcriptFile(workspace, sessionId, 'jsonl');
  let text: string;
  try {
    text = readFileSync(journal, 'utf8');
  } catch {
    return null;
  }
  return fromJournal(sessionId, journal, text);
}

/** One journal line as an entry, or null when it is not one (torn, garbled, not an object). */
function journalEntry(line: string): JournalEntry | null {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JournalEntry) : null;
  } catch {
    return null;
  }
}

function fromJournal(sessionId: string, file: string, text: string): SavedSession {
  let header: Header | null = null;
  let writer: JournalWriter | null = null;
  const messages: Message[] = [];
  // Only results recorded after the last assistant message belong to its calls.
  let results = new Map<string, ToolResultBlock>();
  let end: { status: string; error: string | null } | null = null;
  const lines = text.split('\n');
  let damagedLine: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const entry = journalEntry(line);
    if (entry === null) {
      // A torn last line after a crash: everything before it is whole. A bad line with more after it is damage.
      if (lines.slice(i + 1).some((l) => l !== '')) damagedLine = i + 1;
      break;
    }
    if (entry.header) header = entry.header;
    else if (entry.writer) writer = entry.writer;
    else if (entry.message) {
      messages.push(entry.message);
      if (entry.message.role === 'assistant') results = new Map();
    } else if (entry.tool_result) results.set(entry.tool_result.tool_use_id, entry.tool_result);
    else if (entry.compacted) {
      // The compacted transcript replaces every message before it; it holds every result recorded so far.
      messages.splice(0, messages.length, ...entry.compacted);
      results = new Map();
    }
    else if (entry.end) end = entry.end;
  }
  if (!header) {
    throw new UsageError(`the saved session ${sessionId} is unreadable: its journal ${file} has no header line (it is empty or damaged); there is nothing to resume from`);
  }
  const running = !end && writer !== null && writerAlive(writer.pid, writer.since);
  return {
    ...header, messages, tool_results: [...results.values()], saved_at: new Date().toISOString(),
    writer: running ? writer : null,
    ...(damagedLine !== undefined ? { damaged_line: damagedLine } : {}),
    status: end?.status ?? (running ? 'running' : 'interrupted'),
    error: end?.error ?? (running ? null : 'the process ended before the session did'),
  };
}
