// move_file: rename a file within the workspace, never over an existing one.
//
// Both ends are governed: `from` with action `move`, `to` with action
// `create` (the file appears there). Like delete_file, a `from` that resolves
// through a symlink is refused: moving the canonical path would move the
// link's target, which is not what the path named.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { defineCapability } from './capability.js';
import { entryStats, makeParentDirectories, renameFile } from './fs/authority.js';
import { fsError, refuseThroughSymlink, symlinkRefusal } from './fs/errors.js';

export const moveFile = defineCapability({
  name: 'move_file',
  description:
    'Move (rename) one file from `from` to `to`, both relative to the workspace root. The policy must allow ' +
    '`move` on `from` and `create` on `to`. `to` must not exist (no overwrite); its missing parent directories are ' +
    'created. Directories and symlinks are not moved. Returns "moved <from> to <to>".',
  input: Type.Object(
    {
      from: Type.String({ description: 'Existing file path, relative to the workspace root' }),
      to: Type.String({ description: 'New file path, relative to the workspace root; must not exist yet' }),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['impl'],
  actions: ['move', 'create'],

  async run(ctx, input) {
    const source = await ctx.authorize(input.from, 'move');
    const dest = await ctx.authorize(input.to, 'create');
    refuseThroughSymlink(input.from, source, 'move_file moves');
    if (!source.exists) throw new ToolFailure(`no such file: ${source.rel}`);
    if (source.rel === dest.rel) throw new ToolFailure(`from and to are the same file: ${source.rel}`);
    const exists = () => new ToolFailure(`${dest.rel} already exists; move_file does not overwrite`);
    if (dest.exists) throw exists();

    // Take both locks in one global order, so that a→b and b→a cannot deadlock.
    const [first, second] = source.rel < dest.rel ? [source, dest] : [dest, source];
    await ctx.mutate(first, () =>
      ctx.mutate(second, async () => {
        let stats;
        try {
          stats = entryStats(source);
        } catch (err) {
          throw fsError(err, source.rel, 'moving');
        }
        if (stats === null) throw new ToolFailure(`no such file: ${source.rel}`);
        if (stats.isSymbolicLink()) throw symlinkRefusal(source.rel);
        if (stats.isDirectory()) throw new ToolFailure(`${source.rel} is a directory; move_file moves files only`);
        if (entryStats(dest) !== null) throw exists();
        await makeParentDirectories(dest);
        await renameFile(source, dest);
      }),
    );
    return `moved ${source.rel} to ${dest.rel}`;
  },
});
