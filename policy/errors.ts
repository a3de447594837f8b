// The small table of named errors. Each carries the exit code the CLI uses
// (DESIGN.md §6) so that no command has to map errors itself.

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

/** The provider failed for good (after retries) or answered something unusable. */
export class ProviderError extends ChoragenError {
  constructor(message: string, readonly status?: number, readonly retries = 0) {
    super(message);
  }
}

/** The tree's token or cost budget is spent. */
export class BudgetExceededError extends ChoragenError {
  override readonly exitCode: number = ExitCode.budget;
}

/** SIGINT / SIGTERM, or an abort from the broker. */
export class InterruptedError extends ChoragenError {
  override readonly exitCode: number = ExitCode.interrupted;
}

/**
 * A tool call that the broker refused or could not perform. It never ends a
 * session: the dispatcher turns it into a tool_result with is_error: true.
 * `decision` is what tool_calls.decision records.
 */
export type RefusalDecision = 'deny' | 'invalid' | 'rejected';

export class ToolRefusal extends ChoragenError {
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
export class ToolFailure extends ChoragenError {}

/** One line for the user; detail only when asked for. */
export function describeError(err: unknown, verbose = false): string {
  if (err instanceof ChoragenError) return verbose && err.stack ? err.stack : err.message;
  if (err instanceof Error) return verbose && err.stack ? err.stack : `internal error: ${err.message}`;
  return `internal error: ${String(err)}`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof ChoragenError ? err.exitCode : ExitCode.failed;
}
