// The scripted model: a conversation written in advance, answered turn by turn.
// Pure logic (the caller reads the file): used in-process by `--provider script`
// and behind HTTP by the fake Anthropic server of the tests and the demo.
//
// A request is placed by (role, first user message): the role comes from the
// system prompt (or is given), the conversation picks a script session, and the
// number of assistant messages already in the transcript is the turn index.
// Any role name the policy may define is accepted; the system prompt names it
// on a marker line `choragen role: <name>`.

import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { LineCounter, parseDocument } from 'yaml';
import type { ContentBlock, Message } from '../../../capabilities/protocol.js';
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
const ROLE_NAME = '[a-z][a-z0-9-]*';

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

// --- replying ---------------------------------------------------------------

export interface ScriptedUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** Anthropic's `system`: a string or text blocks (e.g. with cache_control). */
export type SystemPrompt = string | ReadonlyArray<{ type: string; text?: string; [k: string]: unknown }> | undefined;

export interface ScriptedRequest {
  system?: SystemPrompt;
  messages: Message[];
  model?: string;
  /** Overrides detection from the system prompt. */
  role?: ScriptRole;
}

/** What this attempt must do instead of answering (HTTP status or dropped connection). */
export type ScriptedFailure = { kind: 'status'; status: number; retry_after_ms: number } | { kind: 'reset' };

export interface ScriptedReply {
  /** Message id: `msg_scripted_<session>_<turn>_<attempt>`. */
  id: string;
  model: string;
  role: ScriptRole;
  /** Index of the script session that answers this conversation. */
  session: number;
  /** Turn index = assistant messages already in the request. */
  turn: number;
  /** 1-based attempt number at this (conversation, turn). */
  attempt: number;
  content: ContentBlock[];
  stop_reason: string;
  usage: ScriptedUsage;
  /** Answer (or fail) this many ms late. */
  delay_ms: number;
  /** Non-null: this attempt fails this way; a later attempt at the same turn may succeed. */
  failure: ScriptedFailure | null;
  malformed: boolean;
  /** True when the conversation ran past the session's last turn. */
  ended: boolean;
}

export const SCRIPT_ENDED_TEXT = '(script ended)';
const DEFAULT_MODEL = 'choragen-scripted';
/** The line the runtime puts in every system prompt, naming the session's role. */
const ROLE_MARKER = new RegExp(`^choragen role: (${ROLE_NAME})\r?$`, 'm');
/** Older prompts name their role in prose only. */
const ROLE_PHRASES: Array<[ScriptRole, string]> = [
  ['control', 'choragen control agent'],
  ['impl', 'choragen impl agent'],
];

export class ScriptedModel {
  /** conversation key (role + first user message) -> script session index */
  private readonly assigned = new Map<string, number>();
  /** script sessions without `match` already given to a conversation */
  private readonly claimed = new Set<number>();
  /** `${conversation}#${turn}` -> attempts so far */
  private readonly attempts = new Map<string, number>();

  constructor(readonly script: Script) {}

  reply(request: ScriptedRequest, role?: ScriptRole): ScriptedReply {
    const who = role ?? request.role ?? detectRole(request.system);
    const firstUser = firstUserText(request.messages);
    const conversation = `${who}\u0000${firstUser}`;
    const session = this.sessionFor(conversation, who, firstUser);
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    const attemptKey = `${conversation}#${turn}`;
    const attempt = (this.attempts.get(attemptKey) ?? 0) + 1;
    this.attempts.set(attemptKey, attempt);

    const scripted = this.script.sessions[session]!.turns[turn];
    const model = request.model || this.script.model || DEFAULT_MODEL;
    const id = `msg_scripted_${session}_${turn}_${attempt}`;
    if (!scripted) {
      const content: ContentBlock[] = [{ type: 'text', text: SCRIPT_ENDED_TEXT }];
      return {
        id, model, role: who, session, turn, attempt, content,
        stop_reason: 'end_turn',
        usage: fillUsage(undefined, request, content),
        delay_ms: 0, failure: null, malformed: false, ended: true,
      };
    }

    const malformed = scripted.malformed ?? false;
    const content = scripted.content.map((block, i): ContentBlock => {
      if (block.type === 'text') return { type: 'text', text: block.text };
      const input = malformed ? breakInput(block.input) : block.input;
      return { type: 'tool_use', id: block.id ?? `toolu_${session}_${turn}_${i}`, name: block.name, input };
    });
    const stop_reason = scripted.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
    const planned = scripted.failures?.[attempt - 1];
    const failure: ScriptedFailure | null =
      planned === undefined
        ? null
        : planned === 'reset'
          ? { kind: 'reset' }
          : { kind: 'status', status: planned, retry_after_ms: scripted.retry_after_ms ?? 0 };
    return {
      id, model, role: who, session, turn, attempt, content, stop_reason,
      usage: fillUsage(scripted.usage, request, content),
      delay_ms: scripted.delay_ms ?? 0,
      failure, malformed, ended: false,
    };
  }

  private sessionFor(conversation: string, role: ScriptRole, firstUser: string): number {
    const known = this.assigned.get(conversation);
    if (known !== undefined) return known;
    const sessions = this.script.sessions;
    let chosen = sessions.findIndex((s) => s.role === role && s.match !== undefined && firstUser.includes(s.match));
    if (chosen < 0) {
      chosen = sessions.findIndex((s, i) => s.role === role && s.match === undefined && !this.claimed.has(i));
      if (chosen < 0) {
        const distinct = [...this.assigned.keys()].filter((k) => k.startsWith(`${role}\u0000`)).length + 1;
        throw new UsageError(
          `script has no ${role} session for ${role} conversation #${distinct} (first message: ${JSON.stringify(clip(firstUser))})`,
        );
      }
      this.claimed.add(chosen);
    }
    this.assigned.set(conversation, chosen);
    return chosen;
  }
}

/**
 * The role the marker line names; failing that, the role whose phrase occurs
 * first in the system prompt (a control prompt may mention impl agents later).
 */
export function detectRole(system: SystemPrompt): ScriptRole {
  const text = systemText(system);
  const marked = ROLE_MARKER.exec(text);
  if (marked) return marked[1]!;
  let found: ScriptRole | null = null;
  let at = Infinity;
  for (const [role, phrase] of ROLE_PHRASES) {
    const i = text.indexOf(phrase);
    if (i >= 0 && i < at) [found, at] = [role, i];
  }
  if (!found) {
    throw new UsageError(
      'cannot tell the session role: the system prompt has no "choragen role: <name>" line and names neither "choragen control agent" nor "choragen impl agent"',
    );
  }
  return found;
}

function systemText(system: SystemPrompt): string {
  if (system === undefined) return '';
  if (typeof system === 'string') return system;
  return system.map((b) => (typeof b.text === 'string' ? b.text : '')).join('\n');
}

export function firstUserText(messages: Message[]): string {
  const first = messages.find((m) => m.role === 'user');
  if (!first) throw new UsageError('the request has no user message');
  if (typeof first.content === 'string') return first.content;
  return first.content
    .map((b) => (b.type === 'text' && typeof (b as { text?: unknown }).text === 'string' ? (b as { text: string }).text : ''))
    .join('\n');
}

/** Real-shaped usage: scripted numbers where given, else about 4 bytes per token. */
function fillUsage(scripted: ScriptTurn['usage'], request: ScriptedRequest, content: ContentBlock[]): ScriptedUsage {
  return {
    input_tokens:
      scripted?.input_tokens ?? tokensOf(JSON.stringify({ system: request.system, messages: request.messages })),
    output_tokens: scripted?.output_tokens ?? tokensOf(JSON.stringify(content)),
    cache_read_input_tokens: scripted?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: scripted?.cache_creation_input_tokens ?? 0,
  };
}

function tokensOf(json: string): number {
  return Math.ceil(Buffer.byteLength(json, 'utf8') / 4);
}

/** A tool input that is not an object: the JSON text of the real one, cut short. */
function breakInput(input: unknown): string {
  const json = JSON.stringify(input ?? {}) ?? '{}';
  return json.slice(0, Math.max(1, json.length - 1));
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
