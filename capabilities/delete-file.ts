// delete_file: remove one file.
//
// Symlinks: the broker decides on the canonical path, and the canonical path
// of a symlink is its target. Deleting "the link" would then act on a path the
// policy never saw, and deleting the target would surprise whoever named the
// link. So a path that resolves through a symlink (at any component) is
// refused, naming the real path; a symlink that appears at the real path after
// the check is refused too.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { defineCapability } from './capability.js';
import { entryStats, removeFile } from './fs/authority.js';
import { fsError, refuseThroughSymlink, symlinkRefusal } from './fs/errors.js';

export const deleteFile = defineCapability({
  name: 'delete_file',
  description:
    'Delete one file of the workspace. Directories are not deleted, and neither are symlinks or paths through ' +
    'them (the real path is named in the error). Returns "deleted <path>".',
  input: Type.Object(
    { path: Type.String({ description: 'File path relative to the workspace root' }) },
    { additionalProperties: false },
  ),
  defaultRoles: ['impl'],
  actions: ['delete'],

  async run(ctx, input) {
    const target = await ctx.authorize(input.path, 'delete');
    refuseThroughSymlink(input.path, target, 'delete_file deletes');
    if (!target.exists) throw new ToolFailure(`no such file: ${target.rel}`);
    await ctx.mutate(target, async () => {
      let stats;
      try {
        stats = entryStats(target);
      } catch (err) {
        throw fsError(err, target.rel, 'deleting');
      }
      if (stats === null) throw new ToolFailure(`no such file: ${target.rel}`);
      if (stats.isSymbolicLink()) throw symlinkRefusal(target.rel);
      if (stats.isDirectory()) throw new ToolFailure(`${target.rel} is a directory; delete_file deletes files only`);
      await removeFile(target);
    });
    return `deleted ${target.rel}`;
  },
});
