// The errno name of a Node error ('ENOENT'), or 'error' for anything else:
// reasons name the failure without carrying a host error message.

export function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'error';
}
