// edit_file: replace one exact, unique occurrence of a string in a text file.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { DEFAULT_TOOL_LIMITS as LIMITS, defineCapability, type AuthorizedPath } from './capability.js';
import { previewOffThread } from './offload/diff.js';
import { occurrencesOffThread } from './offload/occurrences.js';
import { byteLength, plural } from './fs/output.js';
import { readCurrentText, readUtf8 } from './fs/read.js';
import { openForEdit, rewrite } from './fs/write.js';

export const editFile = defineCapability({
  name: 'edit_file',
  description:
    'Replace one exact occurrence of `old_string` with `new_string` in an existing text file. `old_string` must ' +
    'match the file exactly (whitespace included) and exactly once: include enough surrounding lines to make it ' +
    `unique. Files up to ${LIMITS.writeBytes} bytes. Returns "edited <path>: replaced 1 occurrence at line N".`,
  input: Type.Object(
    {
      path: Type.String({ description: 'File path relative to the workspace root' }),
      old_string: Type.String({ description: 'The exact text to replace; must occur exactly once in the file' }),
      new_string: Type.String({ description: 'The text to put in its place (may be empty to delete it)' }),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['impl'],
  actions: ['modify'],

  async run(ctx, input) {
    if (input.old_string === '') {
      throw new ToolFailure('old_string is empty; use write_file to create a file or replace all of it');
    }
    if (input.old_string === input.new_string) {
      throw new ToolFailure('old_string and new_string are the same; nothing to change');
    }
    const limit = ctx.limits.writeBytes;
    const target = await ctx.authorize(input.path, 'modify', (checked) =>
      editPreview(checked, input.old_string, input.new_string, limit),
    );
    if (!target.exists) throw new ToolFailure(`no such file: ${target.rel}`);

    const { line, bytes } = await ctx.mutate(target, async () => {
      const { handle, size } = await openForEdit(target);
      try {
        if (size > limit) throw new ToolFailure(`${target.rel} is ${size} bytes; edit_file edits files up to ${limit} bytes`);
        const text = await readUtf8(handle, size);
        if (text === null || text.includes('\0')) {
          throw new ToolFailure(`${target.rel} is not UTF-8 text; edit_file cannot edit it`);
        }
        const edit = await planEdit(text, input.old_string, input.new_string, target.rel, ctx.signal);
        const newSize = byteLength(edit.text);
        if (newSize > limit) throw new ToolFailure(`the edit would make ${target.rel} ${newSize} bytes; the limit is ${limit}`);
        return { line: edit.line, bytes: await rewrite(target, handle, edit.text) };
      } finally {
        await handle.close();
      }
    });
    return `edited ${target.rel}: replaced 1 occurrence at line ${line} (${plural(bytes, 'byte')})`;
  },
});

export interface PlannedEdit {
  text: string;
  /** 1-based line where the replaced text started */
  line: number;
}

/**
 * The file's text after the edit, or a ToolFailure saying why it cannot be
 * made. The search runs off the broker's thread (offload/occurrences.ts). Occurrences are counted overlapping ("aa" occurs twice in "aaa"):
 * either one would be a guess. A file with CRLF line endings also matches an
 * `old_string` written with LF, and then `new_string` gets CRLF too.
 */
export async function planEdit(text: string, oldString: string, newString: string, rel: string, signal?: AbortSignal): Promise<PlannedEdit> {
  let find = oldString;
  let replace = newString;
  let found = await occurrencesOffThread(text, find, signal);
  if (found.count === 0 && text.includes('\r\n') && oldString.includes('\n') && !oldString.includes('\r')) {
    find = oldString.replace(/\n/g, '\r\n');
    replace = newString.replace(/\r?\n/g, '\r\n');
    found = await occurrencesOffThread(text, find, signal);
  }
  if (found.count === 0) throw new ToolFailure(`old_string not found in ${rel}`);
  if (found.count > 1) {
    throw new ToolFailure(`old_string matches ${found.count} times in ${rel}; include more context to make it unique`);
  }
  const at = found.first;
  return {
    // Slices, not String.replace: `$&` and friends in new_string stay literal.
    text: text.slice(0, at) + replace + text.slice(at + find.length),
    line: lineAt(text, at),
  };
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}

async function editPreview(target: AuthorizedPath, oldString: string, newString: string, limit: number): Promise<string> {
  const current = await readCurrentText(target, limit);
  if (current.kind === 'missing') return `${target.rel}: no such file (the edit will fail)`;
  if (current.kind === 'unshown') return `${target.rel}: ${current.reason} (the edit will fail)`;
  try {
    const edited = (await planEdit(current.text, oldString, newString, target.rel)).text;
    return await previewOffThread(target.rel, current.text, edited);
  } catch (err) {
    return `${target.rel}: ${(err as Error).message} (the edit will fail)`;
  }
}
