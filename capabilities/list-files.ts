// list_files: the entries of a workspace directory, optionally recursive.

import { Type } from '@sinclair/typebox';
import { ToolFailure } from '../policy/errors.js';
import { DEFAULT_TOOL_LIMITS as LIMITS, defineCapability } from './capability.js';
import { OutputBudget, displayPath, withNotes } from './fs/output.js';
import { existingEntry } from './fs/read.js';
import { walk, type WalkEntry } from './fs/walk.js';

const SUFFIX: Record<WalkEntry['kind'], string> = { dir: '/', symlink: '@', file: '', other: '' };

export const listFiles = defineCapability({
  name: 'list_files',
  description:
    'List a directory of the workspace (default: the root). Returns one workspace-relative path per line, sorted; ' +
    'directories end with "/", symlinks with "@" (not followed). .git, node_modules and .choragen are left out. ' +
    `With recursive=true, lists everything below, depth first. At most ${LIMITS.listEntries} entries; ` +
    'a note says when the list was cut.',
  input: Type.Object(
    {
      path: Type.Optional(Type.String({ description: 'Directory relative to the workspace root (default ".")' })),
      recursive: Type.Optional(Type.Boolean({ description: 'Include the content of subdirectories (default false)' })),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read'],

  async run(ctx, input) {
    const target = await ctx.authorize(input.path ?? '.', 'read');
    const shown = displayPath(target.rel);
    const stats = await existingEntry(target, 'listing', `no such directory: ${shown}`);
    if (!stats.isDirectory()) throw new ToolFailure(`${shown} is a file; use read_file to read it`);

    const recursive = input.recursive ?? false;
    const cap = ctx.limits.listEntries;
    const budget = new OutputBudget(ctx.limits.outputBytes);
    let more = false;
    const entries = walk(target, {
      recursive,
      canRead: (rel) => ctx.canRead(rel),
      signal: ctx.signal,
    });
    for await (const entry of entries) {
      if (budget.count >= cap || !budget.add(displayPath(entry.rel) + SUFFIX[entry.kind])) {
        more = true;
        break;
      }
    }
    if (budget.count === 0 && !more) return `${shown}: (empty directory)`;

    const notes: string[] = [];
    if (more) {
      const why = budget.full ? `output capped at ${ctx.limits.outputBytes} bytes` : `at most ${cap} entries`;
      const hint = recursive
        ? 'list a subdirectory, or call without recursive, to see the rest'
        : 'use search_files with a glob to find specific files';
      notes.push(`listing stopped after ${budget.count} entries (${why}); ${hint}`);
    }
    return withNotes(budget.lines.join('\n'), notes);
  },
});
