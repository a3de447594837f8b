// What a capability is: a TypeBox schema of its input, the description the
// model sees, the roles that get it by default, and the effect the broker
// performs. Capabilities run in the broker (main thread) only; a session
// reaches one through the MessagePort the broker bound to it.

import type { BigIntStats } from 'node:fs';
import type { Static, TSchema } from '@sinclair/typebox';
import type { CheckedPath } from '../policy/canonical.js';
import type { Action, Role } from '../policy/types.js';

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
  spawnChild(request: { instructions: string; taskId?: string; chainId?: string }): Promise<ChildReport>;
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
}

export interface ToolResult {
  content: string;
  /** complete_task: end the session after this assistant message */
  endsSession?: boolean;
  /** complete_task: the session's final text (its report to the parent) */
  finalText?: string;
}

export interface Capability<S extends TSchema = TSchema> {
  readonly name: string;
  readonly description: string;
  readonly input: S;
  readonly defaultRoles: readonly Role[];
  run(ctx: ToolContext, input: Static<S>): Promise<ToolResult | string>;
}

export function defineCapability<S extends TSchema>(capability: Capability<S>): Capability<S> {
  return capability;
}
