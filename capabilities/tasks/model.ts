// Pure code for task chains: ids, file locations, the task file's markdown
// header, and which status moves are legal. No I/O here; store.ts and
// session.ts perform the effects.
//
// Layout (choragen's):
//   docs/tasks/<status>/<CHAIN-ID>/<NNN-slug>.md   one task
//   docs/tasks/.chains/<CHAIN-ID>.json             chain metadata

import { ToolFailure } from '../../policy/errors.js';

export const TASK_STATUSES = ['backlog', 'todo', 'in-progress', 'in-review', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** impl: handed to an impl session; control: the control session does it itself. */
export const TASK_TYPES = ['impl', 'control'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const TASKS_DIR = 'docs/tasks';
export const CHAINS_DIR = 'docs/tasks/.chains';

/**
 * Legal moves. The normal path is backlog → todo → in-progress → in-review →
 * done; a task can be started straight from the backlog, and review can send
 * it back to in-progress (rework). done is final.
 */
export const ALLOWED_MOVES: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  backlog: ['todo', 'in-progress'],
  todo: ['in-progress'],
  'in-progress': ['in-review'],
  'in-review': ['done', 'in-progress'],
  done: [],
};

/** Throws a one-line ToolFailure naming the current status and the allowed moves. */
export function checkTransition(taskId: string, from: TaskStatus, to: TaskStatus): void {
  const allowed = ALLOWED_MOVES[from];
  if (allowed.includes(to)) return;
  const options = allowed.length === 0 ? `${from} is final` : `from ${from} it can move to ${allowed.join(' or ')}`;
  throw new ToolFailure(`cannot move task ${taskId} from ${from} to ${to}: ${options}`);
}

// --- ids ----------------------------------------------------------------------

/** Lowercase words joined by `-`, at most `max` characters, cut at a word boundary. */
export function slugify(title: string, fallback: string, max = 40): string {
  const words = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let slug = '';
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > max) break;
    slug = next;
  }
  if (!slug && words.length > 0) slug = words[0]!.slice(0, max);
  return slug || fallback;
}

// Ids reach the store from the model: only these characters, so an id can never
// name a path outside its folder.
const CHAIN_ID = /^CHAIN-(\d+)(?:-[A-Za-z0-9_-]+)?$/;
const TASK_NAME = /^(\d+)(?:-[A-Za-z0-9_-]+)?$/;

export function chainIdFor(sequence: number, title: string): string {
  return `CHAIN-${String(sequence).padStart(3, '0')}-${slugify(title, 'chain')}`;
}

export function taskNameFor(number: number, title: string): string {
  return `${String(number).padStart(3, '0')}-${slugify(title, 'task')}`;
}

export function isChainId(value: string): boolean {
  return CHAIN_ID.test(value);
}
export function chainSequence(chainId: string): number | null {
  const m = CHAIN_ID.exec(chainId);
  return m ? Number(m[1]) : null;
}
export function isTaskName(value: string): boolean {
  return TASK_NAME.test(value);
}
export function taskNumber(name: string): number | null {
  const m = TASK_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

export const taskId = (chainId: string, name: string): string => `${chainId}/${name}`;

/** What a task reference names: a full id, or a name (or number) to look up. */
export interface TaskRef {
  chainId: string | null;
  name: string;
}

/**
 * Accepts `CHAIN-ID/NNN-slug`, `NNN-slug` or `NNN` (with `.md` tolerated).
 * A chain given both ways must agree. Throws ToolFailure for anything else.
 */
export function parseTaskRef(ref: string, chainId?: string | null): TaskRef {
  const trimmed = ref.trim().replace(/\.md$/, '');
  const parts = trimmed.split('/');
  const name = parts[parts.length - 1] ?? '';
  const refChain = parts.length === 2 ? parts[0]! : null;
  const chain = chainId?.trim() || null;
  if (parts.length > 2 || !isTaskName(name) || (refChain !== null && !isChainId(refChain))) {
    throw new ToolFailure(`"${ref}" is not a task id; use CHAIN-NNN-slug/NNN-slug (task_list shows them)`);
  }
  if (chain !== null && !isChainId(chain)) {
    throw new ToolFailure(`"${chain}" is not a chain id; chain ids look like CHAIN-001-slug (chain_status lists them)`);
  }
  if (refChain !== null && chain !== null && refChain !== chain) {
    throw new ToolFailure(`task ${trimmed} is not in chain ${chain}`);
  }
  return { chainId: refChain ?? chain, name };
}

export const taskFileRel = (status: TaskStatus, chainId: string, name: string): string =>
  `${TASKS_DIR}/${status}/${chainId}/${name}.md`;
export const chainFileRel = (chainId: string): string => `${CHAINS_DIR}/${chainId}.json`;

// --- chain metadata -----------------------------------------------------------------

/** docs/tasks/.chains/<CHAIN-ID>.json (choragen's fields, plus the task list). */
export interface ChainMeta {
  id: string;
  sequence: number;
  slug: string;
  title: string;
  description: string;
  createdAt: string;
  updatedAt: string;
  /** task names (NNN-slug) in the order they were added */
  tasks: string[];
}

export function parseChainMeta(text: string, chainId: string): ChainMeta {
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
  } catch {
    // A damaged metadata file must not hide the chain's tasks: fall back to the id.
  }
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  const sequence = chainSequence(chainId) ?? 0;
  return {
    id: chainId,
    sequence: typeof raw.sequence === 'number' ? raw.sequence : sequence,
    slug: str(raw.slug, chainId.replace(/^CHAIN-\d+-?/, '')),
    // One line, as a title is: a line break in the file would forge a row of every table it is shown in.
    title: str(raw.title, chainId).replace(/[\n\v\f\r\u0085\u2028\u2029]+/g, ' '),
    description: str(raw.description, ''),
    createdAt: str(raw.createdAt, ''),
    updatedAt: str(raw.updatedAt, ''),
    tasks: Array.isArray(raw.tasks) ? raw.tasks.filter((t): t is string => typeof t === 'string') : [],
  };
}

export const formatChainMeta = (meta: ChainMeta): string => `${JSON.stringify(meta, null, 2)}\n`;

// --- the task file ----------------------------------------------------------------

export interface NewTaskFile {
  title: string;
  chainId: string;
  name: string;
  status: TaskStatus;
  type: TaskType;
  /** YYYY-MM-DD */
  created: string;
  /** Markdown. With `## ` headings it is used as the sections; else it is the Objective. */
  body?: string;
}

const RULE = '---';

export function formatTaskFile(task: NewTaskFile): string {
  // Two trailing spaces: a markdown line break, as choragen writes the header.
  const header = [
    `# Task: ${task.title}`,
    '',
    `**Chain**: ${task.chainId}  `,
    `**Task**: ${task.name}  `,
    `**Status**: ${task.status}  `,
    `**Type**: ${task.type}  `,
    `**Created**: ${task.created}`,
  ].join('\n');
  const body = task.body?.trim() ?? '';
  const sections = /^## /m.test(body)
    ? body
    : [
        `## Objective\n\n${body || task.title}`,
        '## Expected Files\n\n- (none listed)',
        '## Acceptance Criteria\n\n- [ ] (none listed)',
      ].join(`\n\n${RULE}\n\n`);
  return `${header}\n\n${RULE}\n\n${sections}\n`;
}

export interface ParsedTaskFile {
  title: string;
  /** `**Key**: value` lines of the header, keyed by Key */
  fields: Record<string, string>;
  sections: { heading: string; body: string }[];
}

// Task files are written by sessions: they are parsed without a regex that
// backtracks (a lazy group before a `\s*$` tail is quadratic in the line).
const FIELD_KEY = /^\*\*([A-Za-z][A-Za-z ]*)\*\*:/;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** `rest` without its trailing `trim` characters, or null when what is left holds a line break. */
function lineValue(rest: string, trim: (s: string) => string): string | null {
  const value = trim(rest);
  return LINE_BREAK.test(value) ? null : value;
}

const trimSpacesAndTabs = (s: string): string => {
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === ' ' || s[start] === '\t')) start += 1;
  while (end > start && (s[end - 1] === ' ' || s[end - 1] === '\t')) end -= 1;
  return s.slice(start, end);
};

/** After `prefix` and at least one space: the rest, right-trimmed (`/^prefix +(.*?)\s*$/`). */
function afterMarker(line: string, prefix: string): string | null {
  if (!line.startsWith(`${prefix} `)) return null;
  let i = prefix.length + 1;
  while (line[i] === ' ') i += 1;
  return line.slice(i);
}

/** `# Title` or `# Task: Title`: the title. */
function titleOf(line: string): string | null {
  const rest = afterMarker(line, '#');
  if (rest === null) return null;
  const named = rest.startsWith('Task:') ? lineValue(rest.slice(5).trimStart(), (x) => x.trimEnd()) : null;
  return named ?? lineValue(rest, (x) => x.trimEnd());
}

/** `## Heading`: the heading. */
function headingOf(line: string): string | null {
  const rest = afterMarker(line, '##');
  return rest === null ? null : lineValue(rest, (x) => x.trimEnd());
}

/** `**Key**: value`: the key and the value. */
function fieldOf(line: string): [string, string] | null {
  const key = FIELD_KEY.exec(line);
  if (!key) return null;
  const value = lineValue(line.slice(key[0].length), trimSpacesAndTabs);
  return value === null ? null : [key[1]!, value];
}

export function parseTaskFile(text: string): ParsedTaskFile {
  const lines = text.split(/\r?\n/);
  let title = '';
  const fields: Record<string, string> = {};
  const sections: { heading: string; body: string }[] = [];
  let current: { heading: string; lines: string[] } | null = null;
  const close = () => {
    if (current) sections.push({ heading: current.heading, body: trimSection(current.lines) });
  };
  for (const line of lines) {
    const heading = headingOf(line);
    if (heading !== null) {
      close();
      current = { heading, lines: [] };
      continue;
    }
    if (current) {
      current.lines.push(line);
      continue;
    }
    const h1 = titleOf(line);
    if (h1 !== null && !title) {
      title = h1;
      continue;
    }
    const field = fieldOf(line);
    if (field && !(field[0] in fields)) fields[field[0]] = field[1];
  }
  close();
  return { title, fields, sections };
}

/** Drop blank edges and the `---` separator that ends a section. */
function trimSection(lines: string[]): string {
  const blank = (s: string) => s.trim() === '';
  let start = 0;
  let end = lines.length;
  while (start < end && blank(lines[start]!)) start += 1;
  while (end > start && (blank(lines[end - 1]!) || lines[end - 1]!.trim() === RULE)) end -= 1;
  return lines.slice(start, end).join('\n');
}

/** Set the header's **Status** line (added after **Task** or the title if missing). */
export function setStatusLine(text: string, status: TaskStatus): string {
  const lines = text.split('\n');
  const headerEnd = headerLength(lines);
  const at = lines.slice(0, headerEnd).findIndex((l) => /^\*\*Status\*\*:/.test(l));
  if (at >= 0) {
    lines[at] = `**Status**: ${status}${lines[at]!.endsWith('  ') ? '  ' : ''}`;
    return lines.join('\n');
  }
  const taskLine = lines.slice(0, headerEnd).findIndex((l) => /^\*\*Task\*\*:/.test(l));
  const titleLine = lines.slice(0, headerEnd).findIndex((l) => /^# /.test(l));
  const insertAt = taskLine >= 0 ? taskLine + 1 : titleLine >= 0 ? titleLine + 1 : 0;
  lines.splice(insertAt, 0, `**Status**: ${status}  `);
  return lines.join('\n');
}

/** Lines before the first `## ` section or `---` rule: the header. */
function headerLength(lines: string[]): number {
  const end = lines.findIndex((l) => /^## /.test(l) || l.trim() === RULE);
  return end < 0 ? lines.length : end;
}

export interface SectionMeta {
  session?: string | null;
  /** ISO timestamp */
  date?: string;
}

/** Append `## heading` (after a rule), with the session and date that wrote it. */
export function appendSectionText(text: string, heading: string, body: string, meta: SectionMeta = {}): string {
  const base = text.trimEnd();
  const metaLines = [
    meta.session ? `**Session**: ${meta.session}` : null,
    meta.date ? `**Date**: ${meta.date}` : null,
  ].filter((l): l is string => l !== null);
  const metaBlock = metaLines.length ? `${metaLines.join('  \n')}\n\n` : '';
  const content = body.trim() || '(no text)';
  return `${base}\n\n${RULE}\n\n## ${heading.trim()}\n\n${metaBlock}${content}\n`;
}

export const COMPLETION_SUMMARY = 'Completion summary';
export const REWORK_FEEDBACK = 'Rework feedback';
export const REVIEW_NOTES = 'Review notes';

/** The session recorded in the last "Completion summary" section, if any. */
export function lastCompletionSession(text: string): string | null {
  const sections = parseTaskFile(text).sections.filter((s) => s.heading === COMPLETION_SUMMARY);
  for (let i = sections.length - 1; i >= 0; i--) {
    const m = /^\*\*Session\*\*:[ \t]*(\S+)/m.exec(sections[i]!.body);
    if (m) return m[1]!;
  }
  return null;
}

export function taskTypeOf(value: string | undefined): TaskType {
  return value === 'control' ? 'control' : 'impl';
}

// --- records the store returns ---------------------------------------------------

export interface TaskRecord {
  /** `CHAIN-ID/NNN-slug` */
  id: string;
  chainId: string;
  /** `NNN-slug` */
  name: string;
  status: TaskStatus;
  /** workspace-relative path of the task file */
  rel: string;
  title: string;
  type: TaskType;
  /** session of the last "Completion summary" section, if any */
  lastSession: string | null;
  text: string;
}

export interface ChainSummary {
  id: string;
  title: string;
  createdAt: string;
  tasks: Omit<TaskRecord, 'text'>[];
  counts: Record<TaskStatus, number>;
}
