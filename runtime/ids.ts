import { randomBytes } from 'node:crypto';

/** Sortable, URL- and file-safe session ids: base36 time + 6 random hex digits. */
export function newSessionId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
