// The errno name of a Node error ('ENOENT'), or 'error' for anything else:
// reasons name the failure without carrying a host error message.
import { errnoCode as codeOf } from '../fs/errors.js';

export function errnoCode(err: unknown): string {
  return codeOf(err) ?? 'error';
}
