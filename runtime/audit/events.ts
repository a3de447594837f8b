// The events the broker records. Each is appended to the run's audit log
// (.choragen/audit/<root-session-id>.jsonl) as one JSON line
//   { line_seq, ts, session_id, type, ...fields, prev }
// before its effect is reported to a session; DuckDB is fed from these logs.
// Field names match the DuckDB columns of DESIGN.md §5. The line counter is
// `line_seq` (not `seq`) because model_call and tool_call carry their own
// per-session `seq`, which is a DuckDB column.

import type { Role } from '../../policy/types.js';

export type SessionStatus = 'running' | 'completed' | 'failed' | 'interrupted' | 'budget_exceeded';
export type ToolDecision = 'allow' | 'deny' | 'approved' | 'rejected' | 'invalid';

export interface RunStarted {
  type: 'run_started';
  session_id: string; // the root session id
  version: string;
  policy_hash: string;
  policy_file: string;
  workspace: string;
  argv: string[];
  sandbox: 'permission' | 'experimental-permission' | 'none';
  pid: number;
}

export interface SessionStarted {
  type: 'session_started';
  session_id: string;
  parent_id: string | null;
  root_id: string;
  role: Role;
  depth: number;
  model: string;
  /** The provider the session's model calls go to (anthropic, openai, script). */
  provider?: string;
  task_id: string | null;
  chain_id: string | null;
  started_at: string; // ISO
  tools: string[];
  resumed_from?: string | null;
}

export interface ModelCallEvent {
  type: 'model_call';
  session_id: string;
  seq: number; // per session, from 1
  started_at: string;
  duration_ms: number;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  stop_reason: string | null;
  retries: number;
  error?: string | null;
}

export interface ToolCallEvent {
  type: 'tool_call';
  session_id: string;
  seq: number; // per session, from 1
  tool: string;
  tool_use_id: string;
  started_at: string;
  duration_ms: number;
  decision: ToolDecision;
  rule: string | null;
  path: string | null; // resolved, workspace-relative ("a -> b" for moves)
  is_error: boolean;
  error: string | null;
  /** run_command only: the argv, shell-quoted on one line (capped), and the exit code (null when it never ran or was stopped). */
  command?: string;
  exit_code?: number | null;
}

export interface ApprovalEvent {
  type: 'approval';
  session_id: string;
  tool: string;
  /** The path the approval was about; for run_command, the command line. */
  path: string;
  rule: string;
  answer: 'yes' | 'no';
  by: 'terminal' | 'auto-approve' | 'no-terminal' | 'timeout' | 'interrupted' | 'unshown';
}

export interface SessionEnded {
  type: 'session_ended';
  session_id: string;
  status: Exclude<SessionStatus, 'running'>;
  ended_at: string;
  duration_ms: number;
  error: string | null;
  final_text: string;
  files_changed: string[];
}

export interface NoticeEvent {
  type: 'notice';
  session_id: string;
  kind: 'budget_warning' | 'budget_exceeded' | 'unsafe_no_sandbox' | 'interrupt' | 'commit' | 'resume' | 'unknown_price'
    /** an audit or journal write failed (a full disk): the tree stops */
    | 'record_failed'
    /** a model this run has no context window for (the default is assumed) */
    | 'context_window'
    /** the endpoint refused the key: the tree stops, the run exits 2 */
    | 'config_error'
    /** something the provider left out of an answer */
    | 'provider'
    /** a session holds run_command but the sandbox is unavailable: every command is refused */
    | 'commands_unavailable';
  message: string;
  /** On 'resume': the process that writes the log from here on (AuditLog.resume sets it). */
  pid?: number;
}

/**
 * A session's conversation was compacted to fit its model's context window
 * (runtime/broker/compaction.ts). Token counts are the broker's estimates of
 * the whole prompt (system and tools included).
 */
export interface CompactionEvent {
  type: 'compaction';
  session_id: string;
  /** 'threshold': the next prompt would have passed the share of the window that triggers it; 'prompt_too_long': the endpoint refused one. */
  reason: 'threshold' | 'prompt_too_long';
  window_tokens: number;
  tokens_before: number;
  tokens_after: number;
  messages_before: number;
  messages_after: number;
  /** Tool results replaced by a one-line stub. */
  stubbed: number;
  /** Oldest turns removed whole. */
  dropped_turns: number;
}

/**
 * The last line of a log its writer closed. It carries nothing of its own:
 * it is there so that the line before it, like every other, is vouched for
 * by the next line's prev.
 */
export interface LogClosed {
  type: 'log_closed';
  session_id: string; // the root session id
}

export type AuditEvent =
  | LogClosed
  | RunStarted
  | SessionStarted
  | ModelCallEvent
  | ToolCallEvent
  | ApprovalEvent
  | SessionEnded
  | NoticeEvent
  | CompactionEvent;

/**
 * A line as stored: the event plus the chain fields. `line_seq` counts the
 * lines of the file from 0; `prev` is the SHA-256 (hex) of the previous line's
 * bytes, for line 0 of `choragen-audit-v1|<version>|<policy_hash>`.
 */
export type AuditLine = AuditEvent & { line_seq: number; ts: string; prev: string };
