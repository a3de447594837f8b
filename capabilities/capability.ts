// What a capability is: a TypeBox schema of its input, the description the
// model sees, the roles that get it by default, and the effect the broker
// performs. Capabilities run in the broker (main thread) only; a session
// reaches one through the MessagePort the broker bound to it.

import type { BigIntStats } from 'node:fs';
import type { Static, TSchema } from '@sinclair/typebox';
import type { ProgramFacts } from '../policy/command-guard.js';
import type { CheckedPath } from '../policy/canonical.js';
import type { Action, Decision, MutationAction, Role } from '../policy/types.js';
import type { Sandbox } from './sandbox/sandbox.js';

export interface SessionIdentity {
  readonly id: string;
  readonly role: Role;
  readonly depth: number;
  readonly parentId: string | null;
  readonly rootId: string;
  readonly taskId: string | null;
  readonly chainId: string | null;
}

/** Output caps. They are settings (shown by the manifest), not constants. */
export interface ToolLimits {
  readLines: number; // read_file default `limit`
  outputBytes: number; // any tool result
  lineLength: number; // one line in read/search output
  searchMatches: number;
  listEntries: number;
  writeBytes: number; // largest content write_file / edit_file accept
}

export const DEFAULT_TOOL_LIMITS: ToolLimits = {
  readLines: 2000,
  outputBytes: 100_000,
  lineLength: 2000,
  searchMatches: 200,
  listEntries: 1000,
  writeBytes: 1024 * 1024,
};

/**
 * A path the broker has canonicalized and the policy has allowed: a
 * CheckedPath, which only policy/canonical can make (a plain object with the
 * same fields does not type-check, and the filesystem authority refuses it).
 */
export type AuthorizedPath = CheckedPath;

/** What a child session reports back to its parent. */
export interface ChildReport {
  session_id: string;
  status: string;
  final_text: string;
  files_changed: string[];
  input_tokens: number;
  output_tokens: number;
  error: string | null;
}

/** Broker services some capabilities need. Provided per call, bound to the caller. */
export interface BrokerServices {
  /**
   * Throws the refusal a spawn of `role` would meet now (a role the caller's
   * role may not start, a limit), so a spawn tool can refuse before it moves
   * any task file.
   */
  checkSpawn(role: Role): void;
  /**
   * Start a child session of `role` and wait for its report. The broker
   * refuses (ToolRefusal, audited) a role the caller's role may not spawn,
   * and a spawn over the depth or parallel limit.
   */
  spawnChild(request: { role: Role; instructions: string; taskId?: string; chainId?: string }): Promise<ChildReport>;
}

/** What run_command asks of the broker, bound to the calling session and tool call. */
export interface CommandServices {
  /**
   * The built-in guard, then the policy's `commands` rules for this role,
   * then the sandbox's probe, then (for `approve`) a human shown the command
   * line. Resolves with the sandbox to run in; throws ToolRefusal on any no,
   * which is recorded as this call's decision.
   */
  authorize(argv: readonly string[], program: ProgramFacts, cwd: AuthorizedPath): Promise<Sandbox>;
  /** The broker's decision for a workspace path (protected paths included), without asking anyone and without recording it. */
  decide(action: MutationAction | 'read', rel: string): Decision;
  /** The static bases of the role's allow rules (`.` is the whole workspace): where its commands may write. */
  readonly writableBases: readonly string[];
  /** limits.command_timeout_s: the default timeout, and the most a call may ask for. */
  readonly timeoutLimitS: number;
  /** Runs `effect` with the workspace to itself: file tools' writes and other commands wait for it. */
  exclusive<T>(effect: () => Promise<T>): Promise<T>;
  /** A change the command made that does not stand (or could not be undone): recorded as a denial of this call. */
  refused(rel: string, decision: Decision): void;
  /** Changes that stand (workspace-relative paths): added to the session's files changed. */
  changed(rels: readonly string[]): Promise<void>;
  /** For this call's audit line: the command (shell-quoted, one line) and its exit code. */
  record(fields: { command?: string; exitCode?: number | null }): void;
}

export interface ToolContext {
  readonly session: SessionIdentity;
  /** absolute workspace root */
  readonly workspace: string;
  readonly limits: ToolLimits;
  readonly signal: AbortSignal;
  readonly broker: BrokerServices;
  /**
   * Canonicalize `path` (relative to the workspace) and ask the policy about
   * `action` for this session's role. Throws ToolRefusal on deny or a rejected
   * approval. Every call is recorded for the tool call's audit line.
   * `preview` (a diff) is shown to a human when the decision is `approve`;
   * it receives the canonical path so it can read the current content.
   * For `create`/`modify` pass action 'write': the broker picks by existence.
   */
  authorize(
    path: string,
    action: Action | 'write',
    preview?: (target: AuthorizedPath) => Promise<string>,
  ): Promise<AuthorizedPath>;
  /** Whether a canonical relative path may be read (for list/search filtering). No audit. */
  canRead(rel: string): boolean;
  /**
   * The workspace root as a CheckedPath, for paths a capability derives
   * itself (a command's plan and the check of its changes). Nothing is
   * decided or recorded: the capability asks `canRead` / `commands.decide`
   * before it acts on what it reaches.
   */
  root(): Promise<CheckedPath>;
  /**
   * Where `path` (relative to the workspace) really leads, every symlink
   * followed, as canonicalize finds it; ToolRefusal when that is not a
   * workspace path. Nothing is decided or recorded.
   */
  resolve(path: string): Promise<CheckedPath>;
  /**
   * Perform a mutation of `target` under the broker's per-path lock. Refuses
   * (ToolRefusal) if the file changed since this session last saw it, records
   * the new version and the file as changed by this session.
   */
  mutate<T>(target: AuthorizedPath, effect: () => Promise<T>): Promise<T>;
  /**
   * Note the version of a file this session has read (for stale-write checks).
   * `stats`: an fstat ({ bigint: true }) of the handle the content is read
   * from, taken before reading; without it the path is stat'ed again.
   */
  observed(target: AuthorizedPath, stats?: BigIntStats): Promise<void>;
  /** run_command's access to the broker. */
  readonly commands: CommandServices;
}

export interface ToolResult {
  content: string;
  /** complete_task: end the session after this assistant message */
  endsSession?: boolean;
  /** complete_task: the session's final text (its report to the parent) */
  finalText?: string;
}

/** A role a session may start, as its parent is told about it. */
export interface SpawnableRole {
  readonly name: Role;
  readonly description: string;
}

/** What one session is offered beyond its tool names: what its input schemas may depend on. */
export interface ToolOffer {
  /** The roles this session may start (its role's `spawns`). */
  readonly spawns: readonly SpawnableRole[];
}

export interface Capability<S extends TSchema = TSchema> {
  readonly name: string;
  readonly description: string;
  /** The input's shape. The dispatcher checks every call against it. */
  readonly input: S;
  /**
   * The input schema offered to one session, when it depends on the session
   * (spawn_session: `role` is the enum of the roles it may start). So the
   * tool list is built per session, never shared between roles. The offered
   * schema may only narrow `input`; what it narrows, the capability (or the
   * broker service it calls) enforces itself, so a call outside it is refused
   * with the rule that forbids it rather than as malformed input.
   */
  inputFor?(offer: ToolOffer): TSchema;
  readonly defaultRoles: readonly Role[];
  /** The policy actions this tool can ask for: the manifest shows the rules that govern them. */
  readonly actions?: readonly Action[];
  run(ctx: ToolContext, input: Static<S>): Promise<ToolResult | string>;
}

export function defineCapability<S extends TSchema>(capability: Capability<S>): Capability<S> {
  return capability;
}

/** The input schema `capability` offers a session with `offer`. */
export function offeredInput(capability: Capability, offer: ToolOffer): TSchema {
  return capability.inputFor ? capability.inputFor(offer) : capability.input;
}
