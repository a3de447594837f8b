// Each session's transcript under .choragen/sessions/<id>.json, rewritten
// after every turn (temp file + rename) so a crash never leaves half a file.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SessionIdentity } from '../capabilities/capability.js';
import type { Message } from '../capabilities/protocol.js';
import { UsageError } from './errors.js';
import { workspacePaths } from './paths.js';

export interface SavedSession {
  identity: SessionIdentity;
  tools: string[];
  envelope: string[];
  model: string;
  status: string;
  error: string | null;
  messages: Message[];
  saved_at: string;
}

export function transcriptFile(workspace: string, sessionId: string): string {
  return path.join(workspacePaths(workspace).sessions, `${sessionId}.json`);
}

export function saveTranscript(workspace: string, saved: SavedSession): void {
  const file = transcriptFile(workspace, saved.identity.id);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(saved));
  renameSync(tmp, file);
}

export function loadTranscript(workspace: string, sessionId: string): SavedSession {
  if (!/^[A-Za-z0-9_-]+$/.test(sessionId)) throw new UsageError(`not a session id: ${sessionId}`);
  try {
    return JSON.parse(readFileSync(transcriptFile(workspace, sessionId), 'utf8')) as SavedSession;
  } catch {
    throw new UsageError(`no saved session ${sessionId} in ${workspacePaths(workspace).sessions} (see \`choragen agent:list\`)`);
  }
}
