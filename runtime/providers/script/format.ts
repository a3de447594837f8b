// The script file format: a conversation written in advance, per role and
// turn (schema), read from JSON or YAML (parseScript), and what is wrong with
// a script said in one line with its file, line and key. Replaying a script
// is replay.ts.
//
// Any role name the policy may define is accepted (the same pattern as the
// policy's role names).

import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LineCounter, parseDocument } from 'yaml';
import { UsageError } from '../../../policy/errors.js';
import { schemaErrors, type SchemaError } from '../../../policy/schema-errors.js';
import { formatKey, lineOf, pointerSegments, schemaAt, type Segment, valueAt } from '../../../policy/error-location.js';

// --- format -----------------------------------------------------------------

const ScriptTextBlock = Type.Object(
  { type: Type.Literal('text'), text: Type.String() },
  { additionalProperties: false },
);

const ScriptToolUseBlock = Type.Object(
  {
    type: Type.Literal('tool_use'),
    id: Type.Optional(Type.String({ minLength: 1 })),
    name: Type.String({ minLength: 1 }),
    input: Type.Unknown(),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0 });

/** A role name as the policy file spells it. */
export const ROLE_NAME = '[a-z][a-z0-9-]*';

const ScriptUsageSchema = Type.Object(
  {
    input_tokens: Type.Optional(Count),
    output_tokens: Type.Optional(Count),
    cache_read_input_tokens: Type.Optional(Count),
    cache_creation_input_tokens: Type.Optional(Count),
  },
  { additionalProperties: false },
);

const ScriptTurnSchema = Type.Object(
  {
    content: Type.Array(
      Type.Union([ScriptTextBlock, ScriptToolUseBlock], {
        description: '{"type":"text","text":…} or {"type":"tool_use","name":…,"input":…}',
      }),
    ),
    stop_reason: Type.Optional(
      Type.Union([
        Type.Literal('end_turn'),
        Type.Literal('tool_use'),
        Type.Literal('max_tokens'),
        Type.Literal('stop_sequence'),
        Type.Literal('pause_turn'),
        Type.Literal('refusal'),
      ], { description: 'one of end_turn, tool_use, max_tokens, stop_sequence, pause_turn, refusal' }),
    ),
    usage: Type.Optional(ScriptUsageSchema),
    delay_ms: Type.Optional(Count),
    failures: Type.Optional(
      Type.Array(
        Type.Union([Type.Integer({ minimum: 400, maximum: 599 }), Type.Literal('reset')], {
          description: 'an HTTP status 400..599 or "reset"',
        }),
      ),
    ),
    retry_after_ms: Type.Optional(Count),
    malformed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const ScriptSessionSchema = Type.Object(
  {
    role: Type.String({ pattern: `^${ROLE_NAME}$`, description: 'a role name: a lowercase letter, then lowercase letters, digits or "-"' }),
    match: Type.Optional(Type.String({ minLength: 1 })),
    turns: Type.Array(ScriptTurnSchema),
  },
  { additionalProperties: false },
);

export const ScriptSchema = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1 })),
    sessions: Type.Array(ScriptSessionSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type Script = Static<typeof ScriptSchema>;
export type ScriptSession = Static<typeof ScriptSessionSchema>;
export type ScriptTurn = Static<typeof ScriptTurnSchema>;
export type ScriptRole = ScriptSession['role'];

const checkScript = TypeCompiler.Compile(ScriptSchema);

// --- parsing ----------------------------------------------------------------

/** Parse and validate a script (JSON, or YAML when the name ends in .yaml/.yml). */
export function parseScript(text: string, fileName: string): Script {
  const isYaml = /\.ya?ml$/i.test(fileName);
  const data = isYaml ? parseYamlText(text, fileName) : parseJsonText(text, fileName);
  if (!checkScript.Check(data)) throw new UsageError(describeInvalid(data, text, fileName));
  return data;
}

function parseJsonText(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = position ? lineAt(text, Number(position[1])) : yamlErrorLine(text);
    const reason = message
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/ in JSON at position \d+/, '')
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '') // Node 20 quotes a multi-line snippet
      .replace(/\s+/g, ' ');
    throw new UsageError(`${fileName}${line ? `:${line}` : ''}: invalid JSON: ${reason}`);
  }
}

function parseYamlText(text: string, fileName: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new UsageError(`${fileName}:${line}: invalid YAML: ${first.message.split('\n')[0]}`);
  }
  return doc.toJS();
}

/** Where the YAML parser (a JSON superset) stumbles: a line for JSON errors that carry no position. */
function yamlErrorLine(text: string): number | null {
  const lineCounter = new LineCounter();
  const first = parseDocument(text, { lineCounter }).errors[0];
  return first ? lineCounter.linePos(first.pos[0]).line : null;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** One line: file, line (when it can be found), the key path, what is wrong. */
function describeInvalid(data: unknown, text: string, fileName: string): string {
  const { pointer, message } = explainErrors(data);
  const segments = pointerSegments(data, pointer);
  const line = lineIn(text, segments);
  const where = line ? `:${line}` : '';
  const key = segments.length ? ` ${formatKey(segments)}:` : '';
  return `${fileName}${where}:${key} ${message}`;
}

/** The one error an author can act on, in words about the script rather than the schema. */
function explainErrors(data: unknown): { pointer: string; message: string } {
  // A `false` schema (unknown key) restates the parent's error, which names them all.
  const errors = schemaErrors(ScriptSchema, checkScript.Errors(data)).filter((e) => e.keyword !== 'boolean');
  // Errors inside a union's branches only make sense once the union has picked a branch.
  const outside = errors.filter((e) => !e.schemaPath.includes('/anyOf/'));
  const extra = outside.find((e) => e.keyword === 'additionalProperties');
  if (extra) return { pointer: extra.instancePath, message: plain(extra) };
  const first = outside.find((e) => e.keyword !== 'anyOf');
  if (first) return { pointer: first.instancePath, message: plain(first) };
  // Only union errors are left (the anyOf error itself may be cut off: the list stops at 8 errors):
  // explain the outermost union, found from its branches' schema paths.
  const branchError = errors.reduce((a, b) => (unionOf(b).length < unionOf(a).length ? b : a));
  const unionPath = unionOf(branchError);
  const members = errors.filter((e) => e.schemaPath.startsWith(`${unionPath}/anyOf/`) || e.schemaPath === unionPath);
  const pointer = members.reduce((a, b) => (depth(b.instancePath) < depth(a.instancePath) ? b : a)).instancePath;
  return explainUnion(unionPath, pointer, errors, data);
}

/** Schema path of the outermost union an error sits in (the error's own path when none). */
function unionOf(error: SchemaError): string {
  const at = error.schemaPath.indexOf('/anyOf/');
  return at < 0 ? error.schemaPath : error.schemaPath.slice(0, at);
}

function explainUnion(unionPath: string, pointer: string, errors: SchemaError[], data: unknown): { pointer: string; message: string } {
  const schema = (schemaAt(ScriptSchema, unionPath) ?? {}) as { anyOf?: Array<{ properties?: { type?: { const?: unknown } } }>; description?: string };
  const value = valueAt(data, pointerSegments(data, pointer)) as { type?: unknown } | null;
  // A block that names its type is checked against that branch only.
  const branch = schema.anyOf?.findIndex((b) => b.properties?.type?.const !== undefined && b.properties.type.const === value?.type) ?? -1;
  if (branch >= 0) {
    const prefix = `${unionPath}/anyOf/${branch}`;
    const inBranch = errors.filter((e) => e.schemaPath === prefix || e.schemaPath.startsWith(`${prefix}/`));
    const first = inBranch.find((e) => e.keyword === 'additionalProperties') ?? inBranch[0];
    if (first) return { pointer: first.instancePath, message: plain(first) };
  }
  return { pointer, message: `must be ${schema.description ?? 'one of the allowed forms'}` };
}

function plain(error: SchemaError): string {
  if (error.keyword === 'additionalProperties') {
    const keys = (error.params as { additionalProperties: string[] }).additionalProperties;
    return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (error.keyword === 'const') return `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
  if (error.keyword === 'pattern') return `must be ${(schemaAt(ScriptSchema, error.schemaPath) as { description?: string }).description ?? error.message}`;
  return error.message;
}

function depth(pointer: string): number {
  return pointer === '' ? 0 : pointer.split('/').length;
}

/** Line of the closest existing node on the path (JSON parses as YAML too). */
function lineIn(text: string, segments: Segment[]): number | undefined {
  try {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter });
    return doc.errors.length ? undefined : lineOf(doc, lineCounter, segments);
  } catch {
    // locating is a courtesy; the message stands without a line
    return undefined;
  }
}
