// Load and validate `choragen.governance.yaml`. Every problem becomes one
// PolicyError line naming the file, the line and the key, e.g.
//   choragen.governance.yaml:12: roles.impl.allow[0].actions[1]: unknown action "rename" (expected create, modify, delete, move)
// The YAML document API keeps source ranges, so a validation error's data
// path can be mapped back to the line the user has to fix.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LineCounter, parseDocument } from 'yaml';
import { PolicyError } from './errors.js';
import { schemaErrors, type SchemaError } from './schema-errors.js';
import { commandElementsOf, elementProblem } from './commands.js';
import { formatKey, lineOf, pointerSegments, schemaAt, type Segment, valueAt } from './error-location.js';
import { compilePolicy, globProblem } from './decide.js';
import { governanceSchema } from './schema.js';
import { ROLES, type CompiledPolicy, type GovernanceFile } from './types.js';

export interface LoadOptions {
  /**
   * The tool names a role's `tools` may list. The runtime passes its
   * capability names; without them any name passes here and the broker
   * refuses an unknown one when it builds a session.
   */
  knownTools?: readonly string[];
}

type Schema = ReturnType<typeof governanceSchema>;
const validators = new Map<string, { schema: Schema; check: ReturnType<typeof TypeCompiler.Compile<Schema>> }>();

/** The compiled schema for a set of tool names, made once per set. */
function validatorFor(knownTools: readonly string[] | undefined) {
  const key = knownTools ? knownTools.join('\n') : '';
  let v = validators.get(key);
  if (!v) {
    const schema = governanceSchema(knownTools);
    validators.set(key, (v = { schema, check: TypeCompiler.Compile(schema) }));
  }
  return v;
}

/** Read, validate and compile a governance file. */
export async function loadPolicy(file: string, options: LoadOptions = {}): Promise<CompiledPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PolicyError(`${displayName(file)} not found: run \`choragen init\` to create the governance file`, file);
    }
    if (code === 'EISDIR') {
      throw new PolicyError(`${displayName(file)} is a directory, not a governance file: move it out of the way, then run \`choragen init\``, file);
    }
    throw new PolicyError(`${displayName(file)}: cannot read the governance file (${code ?? (err as Error).message})`, file);
  }
  return parseGovernance(text, file, displayName(file), options);
}

/** Validate and compile governance text; `file` names it in messages. */
export function parsePolicy(text: string, file: string, options: LoadOptions = {}): CompiledPolicy {
  return parseGovernance(text, file, file, options);
}

/**
 * A configuration error about one key of a loaded policy, found after loading
 * (a role's prompt file that is missing): `file:line: key: message`.
 */
export function policyKeyError(policy: CompiledPolicy, key: readonly Segment[], message: string): PolicyError {
  const line = policy.lineOf(key);
  const shown = displayName(policy.file);
  const name = formatKey([...key]);
  return new PolicyError(`${line !== undefined ? `${shown}:${line}` : shown}: ${name}: ${message}`, policy.file, line, name);
}

/** A path short enough for a message: relative to the current directory when inside it. */
function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function parseGovernance(text: string, file: string, shown: string, options: LoadOptions): CompiledPolicy {
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

  const { schema, check } = validatorFor(options.knownTools);
  if (!check.Check(data)) {
    const problem = describeFirstError(schema, data, schemaErrors(schema, check.Errors(data)));
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
  const spawnProblem = undefinedSpawn(source);
  if (spawnProblem) fail(locate(spawnProblem.segments), formatKey(spawnProblem.segments), spawnProblem.message);
  return compilePolicy(source, file, (key) => locate([...key]));
}

/**
 * A `spawns` entry naming a role the file does not define. An error rather
 * than a warning: the parent would be offered a role no session can have.
 */
function undefinedSpawn(source: GovernanceFile): { segments: Segment[]; message: string } | null {
  const defined = [...new Set([...ROLES, ...Object.keys(source.roles ?? {})])];
  for (const [role, section] of Object.entries(source.roles ?? {})) {
    const spawns = section.spawns ?? [];
    for (let i = 0; i < spawns.length; i++) {
      if (!defined.includes(spawns[i])) {
        return { segments: ['roles', role, 'spawns', i], message: `unknown role "${spawns[i]}" (defined: ${defined.join(', ')})` };
      }
    }
  }
  return null;
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

function describeFirstError(root: Schema, data: unknown, errors: SchemaError[]): Problem {
  const useful = errors.filter((e) => !RESTATING.has(e.keyword));
  const pool = useful.length > 0 ? useful : errors;
  // Deepest first: the error closest to what the user wrote.
  const error = pool.reduce((best, e) => (depth(e) > depth(best) ? e : best), pool[0]);
  const segments = pointerSegments(data, error.instancePath);
  const value = valueAt(data, segments);
  const schema = schemaAt(root, error.schemaPath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = (error.params.additionalProperties as string[])[0];
      // A map of names (roles:) says what a name must look like.
      if (typeof schema?.['x-key'] === 'string') {
        return { segments: [...segments, extra], atKey: true, message: `invalid name "${extra}": ${schema['x-key']}` };
      }
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
