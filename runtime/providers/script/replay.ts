// The scripted model: a conversation written in advance (format.ts),
// answered turn by turn. Pure logic (the caller reads the file): used
// in-process by `--provider script` and behind HTTP by the fake servers of the
// tests, the bench and the demo.
//
// A request is placed by (role, first user message): the role comes from the
// system prompt (or is given), the conversation picks a script session, and the
// number of assistant messages already in the transcript is the turn index.
// The system prompt names the role on a marker line `choragen role: <name>`.

import type { ContentBlock, Message } from '../../../capabilities/protocol.js';
import { UsageError } from '../../../policy/errors.js';
import { ROLE_NAME, type Script, type ScriptRole, type ScriptTurn } from './format.js';


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
