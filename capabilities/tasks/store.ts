// The task store: chains and task files under docs/tasks (choragen's layout).
// The broker is the only code that uses it. The store is written once against
// a small TaskIO; two IOs exist, and both reach the disk only through the
// filesystem authority (capabilities/fs/authority.ts: no symlink followed at
// any component, no hard link read through):
//   - fsTaskIO(workspace): for the CLI and for the broker's own needs (the
//     context injected into a child's first message);
//   - ctxTaskIO(ctx): every path goes through ctx.authorize and every change
//     through ctx.mutate, so the governance policy covers task moves exactly as
//     it covers write_file and move_file.
// New tasks start in `backlog` (as in choragen) unless `todo` is asked for; a
// task can be started from either.

import { workspaceRoot } from '../../policy/canonical.js';
import type { AuthorizedPath, ToolContext } from '../capability.js';
import { ToolFailure, ToolRefusal } from '../../policy/errors.js';
import {
  createFile,
  entryStats,
  listDirectory,
  makeDirectory,
  makeParentDirectories,
  openForChange,
  readWhole,
  removeFile,
  rewrite,
} from '../fs/authority.js';
import {
  CHAINS_DIR,
  TASKS_DIR,
  TASK_STATUSES,
  appendSectionText,
  chainFileRel,
  chainIdFor,
  chainSequence,
  checkTransition,
  formatChainMeta,
  formatTaskFile,
  isChainId,
  isTaskName,
  lastCompletionSession,
  parseChainMeta,
  parseTaskFile,
  parseTaskRef,
  setStatusLine,
  taskFileRel,
  taskId,
  taskNameFor,
  taskNumber,
  taskTypeOf,
  type ChainMeta,
  type ChainSummary,
  type TaskRecord,
  type SectionMeta,
  type TaskStatus,
  type TaskType,
} from './model.js';

export * from './model.js';

// --- IO -------------------------------------------------------------------------

export interface DirEntry {
  name: string;
  kind: 'dir' | 'file';
}

/** Workspace-relative file operations the store needs. Symlinks are never followed. */
export interface TaskIO {
  /** Directories and regular files in `rel`; [] when it does not exist. */
  list(rel: string): Promise<DirEntry[]>;
  /** File text, or null when it does not exist. */
  read(rel: string): Promise<string | null>;
  /** Create a new file (parents too); false when it already exists. */
  create(rel: string, content: string): Promise<boolean>;
  /** Replace an existing file's content. */
  write(rel: string, content: string): Promise<void>;
  /** Write `content` at `toRel` (which must not exist) and remove `fromRel`. */
  move(fromRel: string, toRel: string, content: string): Promise<void>;
  /** Make a directory (and parents) exist. */
  ensureDir(rel: string): Promise<void>;
}

/** Directories and regular files of `dir`; [] when it is missing or leads through a symlink. */
async function listAt(dir: AuthorizedPath): Promise<DirEntry[]> {
  let entries;
  try {
    entries = await listDirectory(dir);
  } catch (err) {
    if (err instanceof ToolFailure || err instanceof ToolRefusal) return [];
    throw err;
  }
  // Kinds come from lstat: a symlink is neither, so it is skipped.
  return entries.filter((e): e is DirEntry => e.kind === 'dir' || e.kind === 'file');
}

/** A task or chain file's text; null when it is missing, or is not a regular file (a symlink included). */
async function readAt(file: AuthorizedPath): Promise<string | null> {
  let stats;
  try {
    stats = entryStats(file);
  } catch (err) {
    if (err instanceof ToolRefusal) return null; // a symlink on the way: not followed
    throw err;
  }
  if (stats === null || !stats.isFile()) return null;
  return (await readWhole(file)).toString('utf8');
}

async function createAt(file: AuthorizedPath, content: string): Promise<boolean> {
  await makeParentDirectories(file);
  return createFile(file, Buffer.from(content, 'utf8'));
}

async function writeAt(file: AuthorizedPath, content: string): Promise<void> {
  const { handle } = await openForChange(file, 'write');
  try {
    await rewrite(file, handle, Buffer.from(content, 'utf8'));
  } finally {
    await handle.close();
  }
}

async function moveAt(from: AuthorizedPath, to: AuthorizedPath, content: string): Promise<void> {
  if (!(await createAt(to, content))) throw new ToolFailure(`cannot move the task: ${to.name} already exists there`);
  await removeFile(from);
}

async function ensureDirAt(dir: AuthorizedPath): Promise<void> {
  await makeParentDirectories(dir);
  await makeDirectory(dir);
}

/** Under `workspace`, without a policy (the CLI, and broker-side reads): contained by the authority alone. */
export function fsTaskIO(workspace: string): TaskIO {
  let root: Promise<AuthorizedPath> | undefined;
  const at = async (rel: string) => (await (root ??= workspaceRoot(workspace))).descend(rel);
  return {
    list: async (rel) => listAt(await at(rel)),
    read: async (rel) => readAt(await at(rel)),
    create: async (rel, content) => createAt(await at(rel), content),
    write: async (rel, content) => writeAt(await at(rel), content),
    move: async (fromRel, toRel, content) => moveAt(await at(fromRel), await at(toRel), content),
    ensureDir: async (rel) => ensureDirAt(await at(rel)),
  };
}

/**
 * Through the session's ToolContext: every path is the one ctx.authorize
 * returned, every change happens inside ctx.mutate. Listing a directory the
 * policy refuses to read shows it as empty; reading a refused file fails.
 */
export function ctxTaskIO(ctx: ToolContext): TaskIO {
  return {
    async list(rel) {
      let dir: AuthorizedPath;
      try {
        dir = await ctx.authorize(rel, 'read');
      } catch (err) {
        if (err instanceof ToolRefusal) return [];
        throw err;
      }
      if (!dir.exists) return [];
      const entries = await listAt(dir);
      return entries.filter((e) => e.kind === 'dir' || ctx.canRead(`${dir.rel}/${e.name}`));
    },
    async read(rel) {
      const file = await ctx.authorize(rel, 'read');
      if (!file.exists) return null;
      // Recorded before reading, so a later move only fails if the file changes after this.
      await ctx.observed(file);
      return readAt(file);
    },
    async create(rel, content) {
      const file = await ctx.authorize(rel, 'create');
      if (file.exists) return false;
      return ctx.mutate(file, () => createAt(file, content));
    },
    async write(rel, content) {
      const file = await ctx.authorize(rel, 'write');
      await ctx.mutate(file, () => writeAt(file, content));
    },
    async move(fromRel, toRel, content) {
      const from = await ctx.authorize(fromRel, 'move');
      const to = await ctx.authorize(toRel, 'create');
      // Take the two per-path locks in one global order so two moves never deadlock.
      const [first, second] = from.rel < to.rel ? [from, to] : [to, from];
      await ctx.mutate(first, () => ctx.mutate(second, () => moveAt(from, to, content)));
    },
    async ensureDir(rel) {
      // An empty folder holds no content to lock or version: authorizing it is enough.
      const dir = await ctx.authorize(rel, 'create');
      await ensureDirAt(dir);
    },
  };
}

// --- the store ------------------------------------------------------------------

export interface AddTaskOptions {
  body?: string;
  status?: 'backlog' | 'todo';
  type?: TaskType;
}

export interface MoveResult {
  task: TaskRecord;
  from: TaskStatus;
}

interface TaskLocation {
  chainId: string;
  name: string;
  status: TaskStatus;
  rel: string;
}

const statusRank = (s: TaskStatus) => TASK_STATUSES.indexOf(s);
const byTaskOrder = (a: TaskLocation, b: TaskLocation) =>
  a.chainId === b.chainId
    ? (taskNumber(a.name) ?? 0) - (taskNumber(b.name) ?? 0) || (a.name < b.name ? -1 : 1)
    : (chainSequence(a.chainId) ?? 0) - (chainSequence(b.chainId) ?? 0) || (a.chainId < b.chainId ? -1 : 1);

const listed = (names: string[], max = 10) =>
  names.length === 0 ? 'none' : names.length > max ? `${names.slice(0, max).join(', ')}, …` : names.join(', ');

export class TaskStore {
  constructor(
    readonly io: TaskIO,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Every chain id, from the metadata folder and the status folders, in sequence order. */
  async chainIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const e of await this.io.list(CHAINS_DIR)) {
      const id = e.name.replace(/\.json$/, '');
      if (e.kind === 'file' && e.name.endsWith('.json') && isChainId(id)) ids.add(id);
    }
    for (const status of TASK_STATUSES) {
      for (const e of await this.io.list(`${TASKS_DIR}/${status}`)) if (e.kind === 'dir' && isChainId(e.name)) ids.add(e.name);
    }
    return [...ids].sort((a, b) => (chainSequence(a) ?? 0) - (chainSequence(b) ?? 0) || (a < b ? -1 : 1));
  }

  async chainExists(chainId: string): Promise<boolean> {
    return (await this.chainIds()).includes(chainId);
  }

  async readChain(chainId: string): Promise<ChainMeta> {
    await this.requireChain(chainId);
    const text = await this.io.read(chainFileRel(chainId));
    return parseChainMeta(text ?? '{}', chainId);
  }

  async createChain(title: string, description = ''): Promise<ChainMeta> {
    const clean = title.trim();
    if (!clean) throw new ToolFailure('a chain needs a title');
    const ids = await this.chainIds();
    let sequence = Math.max(0, ...ids.map((id) => chainSequence(id) ?? 0)) + 1;
    const at = this.now().toISOString();
    // Exclusive create: a chain created at the same moment takes the next number.
    for (let attempt = 0; attempt < 100; attempt++, sequence++) {
      const id = chainIdFor(sequence, clean);
      if (ids.includes(id)) continue;
      const meta: ChainMeta = {
        id,
        sequence,
        slug: id.replace(/^CHAIN-\d+-/, ''),
        title: clean,
        description,
        createdAt: at,
        updatedAt: at,
        tasks: [],
      };
      if (await this.io.create(chainFileRel(id), formatChainMeta(meta))) {
        await this.io.ensureDir(`${TASKS_DIR}/backlog/${id}`);
        return meta;
      }
    }
    throw new ToolFailure('could not allocate a chain id');
  }

  async addTask(chainId: string, title: string, options: AddTaskOptions = {}): Promise<TaskRecord> {
    const clean = title.trim();
    if (!clean) throw new ToolFailure('a task needs a title');
    const meta = await this.readChain(chainId);
    const status = options.status ?? 'backlog';
    const known = [...(await this.locate(chainId)).map((l) => l.name), ...meta.tasks];
    let number = Math.max(0, ...known.map((n) => taskNumber(n) ?? 0)) + 1;
    const now = this.now();
    for (let attempt = 0; attempt < 100; attempt++, number++) {
      const name = taskNameFor(number, clean);
      const rel = taskFileRel(status, chainId, name);
      const text = formatTaskFile({
        title: clean,
        chainId,
        name,
        status,
        type: options.type ?? 'impl',
        created: now.toISOString().slice(0, 10),
        body: options.body,
      });
      if (!(await this.io.create(rel, text))) continue;
      const updated: ChainMeta = { ...meta, tasks: [...meta.tasks, name], updatedAt: now.toISOString() };
      const metaRel = chainFileRel(chainId);
      if (!(await this.io.create(metaRel, formatChainMeta(updated)))) await this.io.write(metaRel, formatChainMeta(updated));
      return this.record({ chainId, name, status, rel }, text);
    }
    throw new ToolFailure(`could not allocate a task number in ${chainId}`);
  }

  /** Resolve a task reference (see parseTaskRef) and read its file. */
  async findTask(ref: string, chainId?: string | null): Promise<TaskRecord> {
    const parsed = parseTaskRef(ref, chainId);
    const matches = (l: TaskLocation) =>
      l.name === parsed.name || (/^\d+$/.test(parsed.name) && taskNumber(l.name) === Number(parsed.name));
    if (parsed.chainId !== null) {
      const inChain = await this.locate(parsed.chainId);
      const found = inChain.filter(matches);
      if (found.length === 0) {
        await this.requireChain(parsed.chainId);
        const names = [...new Set(inChain.map((l) => l.name))];
        throw new ToolFailure(`unknown task "${parsed.name}" in chain ${parsed.chainId} (tasks: ${listed(names)})`);
      }
      return this.load(this.pick(found, ref));
    }
    const found = (await this.locate()).filter(matches);
    if (found.length === 0) throw new ToolFailure(`unknown task "${ref}"; give its full id CHAIN-NNN-slug/NNN-slug (task_list shows them)`);
    const chains = [...new Set(found.map((l) => l.chainId))];
    if (chains.length > 1) {
      throw new ToolFailure(`task "${ref}" exists in several chains (${listed(chains)}); give the full id CHAIN-NNN-slug/${parsed.name}`);
    }
    return this.load(this.pick(found, ref));
  }

  async listTasks(chainId?: string | null): Promise<TaskRecord[]> {
    if (chainId) await this.requireChain(chainId);
    const out: TaskRecord[] = [];
    for (const location of this.dedupe(await this.locate(chainId ?? undefined))) {
      const text = await this.io.read(location.rel);
      if (text !== null) out.push(this.record(location, text));
    }
    return out;
  }

  async chainStatus(chainId?: string | null): Promise<ChainSummary[]> {
    const ids = chainId ? [chainId] : await this.chainIds();
    if (chainId) await this.requireChain(chainId);
    const tasks = await this.listTasks(chainId);
    const summaries: ChainSummary[] = [];
    for (const id of ids) {
      const metaText = await this.io.read(chainFileRel(id));
      const meta = parseChainMeta(metaText ?? '{}', id);
      const own = tasks.filter((t) => t.chainId === id).map(({ text: _text, ...rest }) => rest);
      const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, own.filter((t) => t.status === s).length])) as Record<TaskStatus, number>;
      summaries.push({ id, title: meta.title, createdAt: meta.createdAt, tasks: own, counts });
    }
    return summaries;
  }

  /** Move a task to `to` (if legal), updating its **Status** line; optionally append a section. */
  async moveTask(
    ref: string,
    to: TaskStatus,
    options: { chainId?: string | null; append?: { heading: string; body: string; session?: string | null } } = {},
  ): Promise<MoveResult> {
    const task = await this.findTask(ref, options.chainId);
    checkTransition(task.id, task.status, to);
    let text = setStatusLine(task.text, to);
    if (options.append) {
      text = appendSectionText(text, options.append.heading, options.append.body, {
        session: options.append.session ?? null,
        date: this.now().toISOString(),
      });
    }
    const rel = taskFileRel(to, task.chainId, task.name);
    await this.io.move(task.rel, rel, text);
    return { task: this.record({ chainId: task.chainId, name: task.name, status: to, rel }, text), from: task.status };
  }

  /** Append a `## heading` section to a task file (rework feedback, completion summary, notes). */
  async appendSection(ref: string, heading: string, body: string, meta: SectionMeta & { chainId?: string | null } = {}): Promise<TaskRecord> {
    const task = await this.findTask(ref, meta.chainId);
    const text = appendSectionText(task.text, heading, body, { session: meta.session ?? null, date: meta.date ?? this.now().toISOString() });
    await this.io.write(task.rel, text);
    return { ...this.record(task, text) };
  }

  // --- internals ---

  private async requireChain(chainId: string): Promise<void> {
    if (!isChainId(chainId)) throw new ToolFailure(`"${chainId}" is not a chain id; chain ids look like CHAIN-001-slug`);
    const ids = await this.chainIds();
    if (!ids.includes(chainId)) throw new ToolFailure(`unknown chain "${chainId}" (chains: ${listed(ids)})`);
  }

  /** Where task files are, by scanning the status folders (the folder is the status). */
  private async locate(chainId?: string): Promise<TaskLocation[]> {
    const out: TaskLocation[] = [];
    for (const status of TASK_STATUSES) {
      const chains = chainId
        ? [chainId]
        : (await this.io.list(`${TASKS_DIR}/${status}`)).filter((e) => e.kind === 'dir' && isChainId(e.name)).map((e) => e.name);
      for (const chain of chains) {
        for (const e of await this.io.list(`${TASKS_DIR}/${status}/${chain}`)) {
          const name = e.name.replace(/\.md$/, '');
          if (e.kind === 'file' && e.name.endsWith('.md') && isTaskName(name)) out.push({ chainId: chain, name, status, rel: taskFileRel(status, chain, name) });
        }
      }
    }
    return out.sort(byTaskOrder);
  }

  /** A task found in two status folders (an interrupted move): the later status wins. */
  private dedupe(locations: TaskLocation[]): TaskLocation[] {
    const best = new Map<string, TaskLocation>();
    for (const l of locations) {
      const key = taskId(l.chainId, l.name);
      const prev = best.get(key);
      if (!prev || statusRank(l.status) > statusRank(prev.status)) best.set(key, l);
    }
    return [...best.values()].sort(byTaskOrder);
  }

  private pick(found: TaskLocation[], ref: string): TaskLocation {
    const unique = this.dedupe(found);
    if (unique.length > 1) {
      throw new ToolFailure(`task "${ref}" matches several tasks (${listed(unique.map((l) => l.name))}); give its full name`);
    }
    return unique[0]!;
  }

  private async load(location: TaskLocation): Promise<TaskRecord> {
    const text = await this.io.read(location.rel);
    if (text === null) throw new ToolFailure(`task ${taskId(location.chainId, location.name)} disappeared while reading it`);
    return this.record(location, text);
  }

  private record(l: TaskLocation, text: string): TaskRecord {
    const parsed = parseTaskFile(text);
    return {
      id: taskId(l.chainId, l.name),
      chainId: l.chainId,
      name: l.name,
      status: l.status,
      rel: l.rel,
      title: parsed.title || l.name,
      type: taskTypeOf(parsed.fields.Type),
      lastSession: lastCompletionSession(text),
      text,
    };
  }
}

export const openTaskStore = (workspace: string): TaskStore => new TaskStore(fsTaskIO(workspace));
export const taskStoreFor = (ctx: ToolContext): TaskStore => new TaskStore(ctxTaskIO(ctx));
