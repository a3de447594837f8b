// Load and validate `choragen.governance.yaml`. Every problem becomes one
// PolicyError line naming the file, the line and the key, e.g.
//   choragen.governance.yaml:12: roles.impl.allow[0].actions[1]: unknown action "rename" (expected create, modify, delete, move)
// The YAML document API keeps source ranges, so a validation error's data
// path can be mapped back to the line the user has to fix.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { PolicyError } from './errors.js';
import { schemaErrors, type SchemaError } from './schema-errors.js';
import { commandElementsOf, elementProblem } from './commands.js';
import { compilePolicy, globProblem } from './decide.js';
import { GovernanceSchema } from './schema.js';
import type { CompiledPolicy, GovernanceFile } from './types.js';

const validator = TypeCompiler.Compile(GovernanceSchema);

type Segment = string | number;

/** Read, validate and compile a governance file. */
export async function loadPolicy(file: string): Promise<CompiledPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PolicyError(`${displayName(file)} not found: run \`choragen init\` to create the governance file`, file);
    }
    throw new PolicyError(`${displayName(file)}: cannot read the governance file (${code ?? (err as Error).message})`, file);
  }
  return parseGovernance(text, file, displayName(file));
}

/** Validate and compile governance text; `file` names it in messages. */
export function parsePolicy(text: string, file: string): CompiledPolicy {
  return parseGovernance(text, file, file);
}

/** A path short enough for a message: relative to the current directory when inside it. */
function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function parseGovernance(text: string, file: string, shown: string): CompiledPolicy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const fail = (line: number | undefined, key: string | undefined, message: string): never => {
    const where = line !== undefined ? `${shown}:${line}` : shown;
    throw new PolicyError(`${where}: ${key ? `${key}: ` : ''}${message}`, file, line, key);
  };

  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0]?.line ?? lineCounter.linePos(syntax.pos[0]).line;
    fail(line, undefined, `YAML syntax error: ${syntax.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`);
  }

  const data = withoutNullValues(doc.toJS({ maxAliasCount: 1000 }) ?? {});
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    fail(1, undefined, 'the governance file must be a mapping (mutations:, reads:, commands:, roles:, limits:)');
  }

  const locate = (segments: Segment[], atKey = false) => lineOf(doc, lineCounter, segments, atKey);

  if (!validator.Check(data)) {
    const problem = describeFirstError(data, schemaErrors(GovernanceSchema, validator.Errors(data)));
    fail(locate(problem.segments, problem.atKey), formatKey(problem.segments), problem.message);
  }
  const source = data as GovernanceFile;

  for (const { segments, pattern } of patternsOf(source)) {
    const problem = globProblem(pattern);
    if (problem) fail(locate(segments), formatKey(segments), problem);
  }
  for (const { segments, element } of commandElementsOf(source)) {
    const problem = elementProblem(element);
    if (problem) fail(locate(segments), formatKey(segments), problem);
  }
  return compilePolicy(source, file);
}

/**
 * `deny:` with every item commented out parses as null; read a null map
 * value as "absent" rather than a type error. Nulls inside lists stay errors.
 */
function withoutNullValues(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v !== null && typeof v === 'object' ? withoutNullValues(v) : v));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNullValues(v);
  return out;
}

function* patternsOf(source: GovernanceFile): Generator<{ segments: Segment[]; pattern: string }> {
  const lists: [Segment[], { pattern: string }[] | undefined][] = [
    [['mutations', 'deny'], source.mutations?.deny],
    [['mutations', 'approve'], source.mutations?.approve],
    [['mutations', 'allow'], source.mutations?.allow],
    [['reads', 'deny'], source.reads?.deny],
  ];
  for (const [role, section] of Object.entries(source.roles ?? {})) {
    for (const kind of ['deny', 'approve', 'allow'] as const) lists.push([['roles', role, kind], section?.[kind]]);
  }
  for (const [base, rules] of lists) {
    for (let i = 0; i < (rules?.length ?? 0); i++) yield { segments: [...base, i, 'pattern'], pattern: rules![i].pattern };
  }
}

interface Problem {
  segments: Segment[];
  /** point at the key itself (unknown key) rather than its value */
  atKey: boolean;
  message: string;
}

// Errors that restate a more specific one (a `false` schema for an extra key,
// the anyOf wrapper of a union) are skipped in favour of the specific error.
const RESTATING = new Set(['boolean', 'anyOf', 'oneOf']);

function describeFirstError(data: unknown, errors: SchemaError[]): Problem {
  const useful = errors.filter((e) => !RESTATING.has(e.keyword));
  const pool = useful.length > 0 ? useful : errors;
  // Deepest first: the error closest to what the user wrote.
  const error = pool.reduce((best, e) => (depth(e) > depth(best) ? e : best), pool[0]);
  const segments = toSegments(data, error.instancePath);
  const value = valueAt(data, segments);
  const schema = schemaAt(error.schemaPath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = (error.params.additionalProperties as string[])[0];
      const expected = Object.keys((schema?.properties as object | undefined) ?? {});
      return {
        segments: [...segments, extra],
        atKey: true,
        message: `unknown key "${extra}"${expected.length ? ` (expected ${expected.join(', ')})` : ''}`,
      };
    }
    case 'required': {
      const missing = (error.params.requiredProperties as string[]).join(', ');
      return { segments, atKey: false, message: `missing key "${missing}"` };
    }
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[]).map(String).join(', ');
      const noun = (schema?.['x-noun'] as string | undefined) ?? 'value';
      return { segments, atKey: false, message: `unknown ${noun} ${JSON.stringify(value)} (expected ${allowed})` };
    }
    case 'type':
      return { segments, atKey: false, message: `expected ${article(String(error.params.type))}, got ${describeValue(value)}` };
    case 'minLength':
      return { segments, atKey: false, message: 'must not be empty' };
    case 'minItems':
      return { segments, atKey: false, message: Number(error.params.limit ?? 1) === 1 ? 'must list at least one item' : `must list at least ${String(error.params.limit)} items` };
    case 'minimum':
    case 'maximum':
      return { segments, atKey: false, message: `${JSON.stringify(value)} is out of range (${error.message.replace(/^must be /, 'must be ')})` };
    default:
      return { segments, atKey: false, message: error.message };
  }
}

function depth(e: SchemaError): number {
  return e.instancePath.split('/').length + (e.keyword === 'additionalProperties' ? 1 : 0);
}

function article(type: string): string {
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** JSON pointer → path segments, numbers where the data holds a list. */
function toSegments(data: unknown, pointer: string): Segment[] {
  if (pointer === '') return [];
  const segments: Segment[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment: Segment = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
    segments.push(segment);
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[segment as string] : undefined;
  }
  return segments;
}

function valueAt(data: unknown, segments: Segment[]): unknown {
  let node = data;
  for (const s of segments) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[s as string] : undefined;
  return node;
}

/** The schema node a schemaPath (`#/properties/roles/...`) points at. */
function schemaAt(schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = GovernanceSchema;
  for (const raw of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

/** `roles.impl.allow[0].actions[1]` */
export function formatKey(segments: Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

/** The 1-based line of the deepest node on `segments` that exists in the document. */
function lineOf(doc: Document, lines: LineCounter, segments: Segment[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lines);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
      if (!pair) break;
      const last = i === segments.length - 1;
      line = rangeLine(last && atKey ? pair.key : (pair.value ?? pair.key), lines) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      line = rangeLine(node, lines) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function rangeLine(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}
