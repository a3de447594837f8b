// Messages between a session worker and the broker. Types only: this file is
// the whole wire contract, and both sides import it.
//
// A worker holds one `model` port and one port per granted tool. Every port is
// bound by the broker at creation to (session, role, tool), so nothing here
// names a session, a role or a tool: a message cannot change who is calling.

export interface TextBlock { type: 'text'; text: string }
export interface ToolUseBlock { type: 'tool_use'; id: string; name: string; input: unknown }
export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string;
  is_error?: boolean;
}
/** Extended thinking, passed back to the provider as it came (its signature included). */
export interface ThinkingBlock { type: 'thinking'; thinking: string; signature: string }
export interface RedactedThinkingBlock { type: 'redacted_thinking'; data: string }
export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock;

export interface Message {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

/** What the worker receives as its piscina task (ports are transferred). */
export interface SessionTask {
  label: string; // for error messages only, never trusted by the broker
  model: MessagePortLike<ModelPortIn>;
  tools: Record<string, MessagePortLike<ToolReply>>;
  /** Transcript to start from: the first user message, or a resumed transcript. */
  messages: Message[];
  maxTurns: number;
  /** Worker boot refuses to run without the permission model unless this is set. */
  requireSandbox: boolean;
}

/** What the worker's task resolves to. */
export interface SessionOutcome {
  status: 'completed' | 'failed' | 'interrupted' | 'budget_exceeded';
  finalText: string;
  turns: number;
  error: string | null;
}

// --- model port -------------------------------------------------------------

/**
 * Ask for the next assistant message. `append` holds only the messages added
 * since the previous request (tool results); the broker keeps the transcript,
 * so a long session does not copy its whole history through the port each turn.
 */
export interface ModelRequest { type: 'model_request'; id: number; append: Message[] }

export interface ModelReply {
  type: 'model_reply';
  id: number;
  content: ContentBlock[];
  stop_reason: string | null;
  /**
   * tool_use id -> the one-line refusal of a call refused on arrival: a tool
   * this session holds no port for, or an input out of bounds (its input is
   * replaced by `{}`). The broker audited the call when it saw the reply; the
   * worker only passes the sentence back as that call's tool_result.
   */
  refused?: Record<string, string>;
}

/** The broker will not (or could not) answer: the session ends with `status`. */
export interface ModelStop {
  type: 'model_stop';
  id: number;
  status: 'failed' | 'interrupted' | 'budget_exceeded';
  reason: string;
}

export type ModelPortIn = ModelReply | ModelStop; // broker -> worker

// --- tool ports -------------------------------------------------------------

export interface ToolRequest { type: 'tool_request'; id: number; tool_use_id: string; input: unknown }

export interface ToolReply {
  type: 'tool_reply';
  id: number;
  content: string;
  is_error: boolean;
  /** complete_task: the session ends after this assistant message. */
  ends_session?: boolean;
  /** complete_task: the session's final text. */
  final_text?: string;
}

/** The part of MessagePort both sides use (kept structural for tests); `In` is what the other side sends. */
export interface MessagePortLike<In = unknown> {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: In) => void): unknown;
  off?(event: 'message', listener: (message: In) => void): unknown;
  close(): void;
  unref?(): void;
  ref?(): void;
}
