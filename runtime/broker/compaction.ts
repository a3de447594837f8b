// Compaction of a session's conversation, so that the next request fits the
// model's context window. Pure: messages in, smaller messages out.
//
// The conversation is the first user message (the instructions: never
// touched) and then turns, each an assistant message with the user message of
// tool results that follows it. Compaction goes in escalating steps, each
// only when the one before left the estimate over the target:
//   1. the newest turns are kept whole while they fit `keepWholeTokens`; in
//      every older turn, a tool result longer than a stub is replaced by a
//      one-line stub naming the call that produced it (so the model can make
//      it again), long strings in tool inputs and long texts are cut, and
//      thinking blocks (which the API drops from earlier turns anyway) are
//      removed;
//   2. the turns kept whole are shrunk the same way, oldest first, all but
//      the newest;
//   3. the oldest turns are dropped whole, and a note in the first message
//      says how many (only when the stubs alone no longer fit: a stubbed
//      turn still tells the model what it did, a dropped one does not);
//   4. the newest turn is shrunk too.
// Stubs are deterministic and short, so a turn compacted once is the same
// bytes the next time: messages keep their places and tool_use / tool_result
// pairs stay matched, so the API accepts every compacted transcript.
import type { ContentBlock, Message, ToolResultBlock, ToolUseBlock } from '../../capabilities/protocol.js';

export interface CompactionOptions {
  /** The messages' estimated tokens must end at or under this. */
  targetTokens: number;
  /** The newest turns stay whole while together they fit this (at step 1). */
  keepWholeTokens: number;
  /** Estimated tokens of a message as sent. */
  tokensOf(message: Message): number;
}

export interface Compacted {
  messages: Message[];
  /** Estimated tokens of the compacted messages. */
  tokens: number;
  /** Tool results replaced by stubs in this compaction. */
  stubbed: number;
  /** Turns removed whole in this compaction. */
  dropped: number;
}

/** A tool result at most this long stays as it is: its stub would not be much shorter. */
const STUB_OVER_CHARS = 400;
/** A string in an older tool input, or an older text, longer than this is cut to KEEP_CHARS. */
const CUT_OVER_CHARS = 1500;
const KEEP_CHARS = 600;
const NOTE_PREFIX = '[choragen: ';

interface Turn {
  messages: Message[];
  tokens: number;
}

export function compactTranscript(messages: readonly Message[], opts: CompactionOptions): Compacted {
  const hasHead = messages[0]?.role === 'user';
  let head = hasHead ? messages[0]! : null;
  const turns = splitTurns(messages.slice(hasHead ? 1 : 0), opts);
  const headTokens = () => (head ? opts.tokensOf(head) : 0);
  const total = () => headTokens() + turns.reduce((n, t) => n + t.tokens, 0);
  let stubbed = 0;

  // Step 1: older turns shrink; the newest stay whole.
  let whole = 0;
  let wholeTokens = 0;
  for (let i = turns.length - 1; i >= 0; i--) {
    if (whole > 0 && wholeTokens + turns[i]!.tokens > opts.keepWholeTokens) break;
    whole++;
    wholeTokens += turns[i]!.tokens;
  }
  const shrinkTurn = (turn: Turn) => {
    const uses = toolUses(turn.messages);
    turn.messages = turn.messages.map((m) => {
      if (typeof m.content === 'string') return m.role === 'assistant' ? { ...m, content: cut(m.content) } : m;
      const content: ContentBlock[] = [];
      for (const block of m.content) {
        const small = shrinkBlock(block, uses);
        if (small === null) continue;
        if (small !== block && block.type === 'tool_result') stubbed++;
        content.push(small);
      }
      return { ...m, content };
    });
    turn.tokens = turn.messages.reduce((n, m) => n + opts.tokensOf(m), 0);
  };
  for (let i = 0; i < turns.length - whole; i++) shrinkTurn(turns[i]!);

  // Step 2: the turns kept whole shrink too, oldest first, the newest stays.
  for (let i = turns.length - whole; i < turns.length - 1 && total() > opts.targetTokens; i++) shrinkTurn(turns[i]!);

  // Step 3: the oldest turns go.
  let dropped = 0;
  while (total() > opts.targetTokens && turns.length > 1) {
    turns.shift();
    dropped++;
  }
  if (dropped > 0 && head) head = withDroppedNote(head, dropped);

  // Step 4: the newest turn shrinks too.
  if (total() > opts.targetTokens && turns.length > 0) shrinkTurn(turns.at(-1)!);

  const out = [...(head ? [head] : []), ...turns.flatMap((t) => t.messages)];
  return { messages: out, tokens: total(), stubbed, dropped };
}

/** Each assistant message starts a turn; the user messages after it belong to it. */
function splitTurns(messages: Message[], opts: CompactionOptions): Turn[] {
  const turns: Turn[] = [];
  for (const m of messages) {
    const last = turns.at(-1);
    if (m.role === 'assistant' || !last) turns.push({ messages: [m], tokens: opts.tokensOf(m) });
    else {
      last.messages.push(m);
      last.tokens += opts.tokensOf(m);
    }
  }
  return turns;
}

function toolUses(messages: Message[]): Map<string, ToolUseBlock> {
  const uses = new Map<string, ToolUseBlock>();
  for (const m of messages) {
    if (typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_use') uses.set(b.id, b);
  }
  return uses;
}

/** The block made smaller (or the same block when it is small already); null to drop it. */
function shrinkBlock(block: ContentBlock, uses: Map<string, ToolUseBlock>): ContentBlock | null {
  switch (block.type) {
    case 'tool_result':
      return typeof block.content === 'string' && block.content.length > STUB_OVER_CHARS ? stubResult(block, uses.get(block.tool_use_id)) : block;
    case 'tool_use': {
      const input = cutStrings(block.input, 0);
      return input === block.input ? block : { ...block, input };
    }
    case 'text': {
      const text = cut(block.text);
      return text === block.text ? block : { ...block, text };
    }
    case 'thinking':
    case 'redacted_thinking':
      return null;
  }
}

/** The one line that stands where a tool result was. */
export function stubResult(result: ToolResultBlock, use: ToolUseBlock | undefined): ToolResultBlock {
  const call = use ? `${use.name} ${clip(JSON.stringify(use.input) ?? '', 100)}` : 'an earlier tool call';
  const what = result.is_error ? 'error' : 'result';
  const again = use ? `call ${use.name} again` : 'repeat the call';
  const content = `${NOTE_PREFIX}compacted to fit the context window: the ${what} of ${call} (${result.content.length.toLocaleString('en-US')} characters) was here; ${again} if you need it]`;
  return { ...result, content };
}

function cut(text: string): string {
  if (text.length <= CUT_OVER_CHARS) return text;
  return `${text.slice(0, KEEP_CHARS)}… ${NOTE_PREFIX}${(text.length - KEEP_CHARS).toLocaleString('en-US')} more characters compacted]`;
}

/** The input with long strings cut; the same object when nothing was. */
function cutStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return cut(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  let changed = false;
  const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const [k, v] of Object.entries(value)) {
    const small = cutStrings(v, depth + 1);
    if (small !== v) changed = true;
    (out as Record<string, unknown>)[k] = small;
  }
  return changed ? out : value;
}

/** The first message, with a note of how many turns compaction removed (one note, kept up to date). */
function withDroppedNote(head: Message, dropped: number): Message {
  const blocks: ContentBlock[] = typeof head.content === 'string' ? [{ type: 'text', text: head.content }] : [...head.content];
  const at = blocks.findIndex((b) => b.type === 'text' && b.text.startsWith(`${NOTE_PREFIX}removed `));
  const before = at >= 0 ? Number(/removed (\d+)/.exec((blocks[at] as { text: string }).text)?.[1] ?? 0) : 0;
  const note: ContentBlock = {
    type: 'text',
    text: `${NOTE_PREFIX}removed ${before + dropped} earlier turns to fit the context window; what they did to the workspace stands. Read again what you need.]`,
  };
  if (at >= 0) blocks[at] = note;
  else blocks.push(note);
  return { ...head, content: blocks };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
