// Every capability, one per file. The broker offers a session the subset its
// role is granted; the manifest prints the same objects.
import type { Capability } from './capability.js';
import { readFile } from './read-file.js';
import { listFiles } from './list-files.js';
import { searchFiles } from './search-files.js';
import { writeFile } from './write-file.js';
import { editFile } from './edit-file.js';
import { deleteFile } from './delete-file.js';
import { moveFile } from './move-file.js';
import { gitStatus } from './git-status.js';
import { gitDiff } from './git-diff.js';
import { spawnImplSession } from './spawn-impl-session.js';
import { spawnSession } from './spawn-session.js';
import { chainStatus } from './chain-status.js';
import { taskList } from './task-list.js';
import { taskStart } from './task-start.js';
import { taskApprove } from './task-approve.js';
import { taskRework } from './task-rework.js';
import { runCommand } from './run-command.js';
import { completeTask } from './complete-task.js';

export const CAPABILITIES: readonly Capability[] = [
  readFile, listFiles, searchFiles, writeFile, editFile, deleteFile, moveFile,
  gitStatus, gitDiff, spawnImplSession, spawnSession, chainStatus, taskList,
  taskStart, taskApprove, taskRework, runCommand, completeTask,
];

export const REGISTRY: ReadonlyMap<string, Capability> = new Map(CAPABILITIES.map((c) => [c.name, c]));
