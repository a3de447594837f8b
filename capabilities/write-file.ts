// write_file: create a file or replace its whole content.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { DEFAULT_TOOL_LIMITS as LIMITS, defineCapability, type AuthorizedPath } from './capability.js';
import { previewOffThread } from './offload/diff.js';
import { byteLength, plural } from './fs/output.js';
import { readCurrentText } from './fs/read.js';
import { ensureParentDirs, writeFileNoFollow } from './fs/write.js';

/** Old content larger than this is not diffed in an approval preview. */
export const PREVIEW_MAX_BYTES = 4 * 1024 * 1024;

export const writeFile = defineCapability({
  name: 'write_file',
  description:
    'Create a file, or replace the whole content of an existing one, with `content` (UTF-8 text, at most ' +
    `${LIMITS.writeBytes} bytes). Missing parent directories are created. To change part of a file, prefer ` +
    'edit_file. Returns "wrote <path> (N bytes, created|modified)".',
  input: Type.Object(
    {
      path: Type.String({ description: 'File path relative to the workspace root' }),
      content: Type.String({ description: 'The complete new content of the file' }),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['impl'],
  actions: ['create', 'modify'],

  async run(ctx, input) {
    const size = byteLength(input.content);
    if (size > ctx.limits.writeBytes) {
      throw new ToolFailure(`content is ${size} bytes; write_file accepts at most ${ctx.limits.writeBytes} bytes`);
    }
    const target = await ctx.authorize(input.path, 'write', (checked) => writePreview(checked, input.content));
    const outcome = await ctx.mutate(target, async () => {
      await ensureParentDirs(target);
      return writeFileNoFollow(target, input.content);
    });
    return `wrote ${target.rel} (${plural(size, 'byte')}, ${outcome})`;
  },
});

export async function writePreview(target: AuthorizedPath, content: string): Promise<string> {
  const current = await readCurrentText(target, PREVIEW_MAX_BYTES);
  switch (current.kind) {
    case 'missing':
      return previewOffThread(target.rel, null, content);
    case 'text':
      return previewOffThread(target.rel, current.text, content);
    case 'unshown':
      return `${target.rel}: current content not shown (${current.reason}); new content:\n${await previewOffThread(target.rel, '', content)}`;
  }
}
