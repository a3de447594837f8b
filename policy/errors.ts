// The one table of errors: every class choragen throws on purpose, with the
// exit code the CLI uses for it (DESIGN.md §6) and, for tool calls, what
// `tool_calls.decision` records. It lives in policy/, the bottom layer, so that
// policy, capabilities and runtime throw the same classes without importing
// upward; the CLI maps any of them to one line and an exit code here too.
//
//   class             exit  raised when
//   UsageError          2   bad flags or arguments, missing configuration
//   PolicyError         2   the governance file is missing or invalid (names file:line key)
//   SandboxUnavailable  2   no permission model for session workers (--unsafe-no-sandbox not given)
//   SandboxPlanError    1   run_command's sandbox plan cannot become bubblewrap arguments (a derivation bug, or a plan too big)
//   ToolRefusal         2   the policy (or a bound) refused a tool call: `decision` deny|invalid|rejected
//   ToolFailure         2   a permitted tool call could not be done (missing file, no match, too large)
//   ProviderError     1/2   the model endpoint failed; `retryable` ones are retried; 401/403 exit 2
//   PromptTooLong       1   the endpoint refused a prompt over the model's context window (compacted, retried once)
//   EndpointStalled     1   nothing arrived within --request-timeout (retried at once: the wait was the backoff)
//   NotAMessage         1   a 200 whose body is not an answer (retried; never written to a transcript)
//   InterruptedError  130   SIGINT / SIGTERM, or an abort from the broker
//   StorageError      1/2   choragen's own records (.choragen/) cannot be written or read: disk full,
//                           read-only, no permission, a file in the way; 2 when found before anything ran
//   ChoragenError       1   anything else that failed for a known reason
//
// A ToolRefusal or ToolFailure never ends a session: the dispatcher turns it
// into a tool_result with is_error. When one reaches the CLI instead (an
// unknown task given to `task:add`, a task file that cannot be read at
// start), it is about what the user asked for: exit 2.

export const ExitCode = {
  completed: 0,
  failed: 1,
  usage: 2,
  budget: 3,
  interrupted: 130,
} as const;

export class ChoragenError extends Error {
  readonly exitCode: number = ExitCode.failed;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, bad arguments, missing configuration: the user can fix it. */
export class UsageError extends ChoragenError {
  override readonly exitCode: number = ExitCode.usage;
}

/** The governance file is missing or invalid. `where` is "file:line key". */
export class PolicyError extends UsageError {
  constructor(message: string, readonly file?: string, readonly line?: number, readonly key?: string) {
    super(message);
  }
}

/** Node's permission model is not available and --unsafe-no-sandbox was not given. */
export class SandboxUnavailableError extends UsageError {}

/**
 * A sandbox plan that cannot be turned into bubblewrap arguments: malformed
 * (a bug in the code that derived it) or too big for bubblewrap. run_command
 * reports it as the tool's failure.
 */
export class SandboxPlanError extends ChoragenError {
  override readonly name = 'SandboxPlanError';
}

/** SIGINT / SIGTERM, or an abort from the broker. */
export class InterruptedError extends ChoragenError {
  override readonly exitCode: number = ExitCode.interrupted;
}

/**
 * choragen's own records under .choragen/ (audit log, session journal,
 * metrics database) cannot be written or read: a full disk, a read-only
 * mount, a permission, a file where a directory should be. Found before any
 * session ran it is a problem with the workspace the user fixes (exit 2);
 * during a run the run fails (exit 1). `code` is the OS error code.
 */
export class StorageError extends ChoragenError {
  override readonly exitCode: number;
  constructor(message: string, readonly code?: string, atStart = false) {
    super(message);
    this.exitCode = atStart ? ExitCode.usage : ExitCode.failed;
  }
}

/** What `tool_calls.decision` records for a refused call. */
export type RefusalDecision = 'deny' | 'invalid' | 'rejected';

/** A tool call that the policy, a grant or a bound refused. */
export class ToolRefusal extends ChoragenError {
  override readonly exitCode: number = ExitCode.usage;
  constructor(
    message: string,
    readonly decision: RefusalDecision = 'deny',
    readonly rule: string | null = null,
    readonly path: string | null = null,
  ) {
    super(message);
  }
}

/** A permitted tool call whose effect failed (missing file, no match, too large...). */
export class ToolFailure extends ChoragenError {
  override readonly exitCode: number = ExitCode.usage;
}

/**
 * The model endpoint failed. `retryable` failures (connection errors, stalls,
 * 429/5xx, a reply of the wrong shape) are retried by the model gateway; a
 * rejected key is a configuration problem the user fixes (exit 2).
 */
export class ProviderError extends ChoragenError {
  override readonly exitCode: number;
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.exitCode = status === 401 || status === 403 ? ExitCode.usage : ExitCode.failed;
  }
}

/**
 * The endpoint refused the prompt as longer than the model's context window
 * (Anthropic's 400 "prompt is too long", OpenAI's context_length_exceeded).
 * Not retryable as it is: the broker compacts the conversation harder first.
 */
export class PromptTooLongError extends ProviderError {
  constructor(message: string, status = 400) {
    super(message, false, status);
  }
}

/**
 * The endpoint sent nothing for --request-timeout (no first event, or none
 * after the last). Retried like a dropped connection, but without a backoff
 * on top: the timeout already waited.
 */
export class EndpointStalledError extends ProviderError {
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * The endpoint answered 200 with something that is not an answer (not the
 * API's events, a message without content). Retryable; `detail` says what
 * came, so the provider can name the endpoint in the message.
 */
export class NotAMessageError extends ProviderError {
  constructor(message: string, readonly detail: string) {
    super(message, true);
  }
}

/** One line for the user; detail only when asked for. */
export function describeError(err: unknown, verbose = false): string {
  if (err instanceof ChoragenError) return verbose && err.stack ? err.stack : err.message;
  if (err instanceof Error) return verbose && err.stack ? err.stack : `internal error: ${err.message}`;
  return `internal error: ${String(err)}`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof ChoragenError ? err.exitCode : ExitCode.failed;
}
