// A ToolContext for capability unit specs. It canonicalizes with the real
// canonicalizer (policy/canonical: a copy here once hid a class of bugs), with
// an injectable decision, and records what the tool asked for.
// Locks, stale-base checks and the audit belong to the real broker and are
// tested end to end elsewhere: mutate here just runs the effect.

import fs, { type BigIntStats } from 'node:fs';
import path from 'node:path';
import { canonicalize, workspaceRoot } from '../../policy/canonical.js';
import { ToolRefusal } from '../../policy/errors.js';
import type { Action, Verdict } from '../../policy/types.js';
import {
  DEFAULT_TOOL_LIMITS,
  type AuthorizedPath,
  type Capability,
  type SessionIdentity,
  type ToolContext,
  type ToolLimits,
} from '../../capabilities/capability.js';

export interface TestToolContextOptions {
  /** Decision for a canonical path and action ('write' already resolved to create/modify). Default: allow. */
  decide?: (rel: string, action: Action) => Verdict;
  /** The human's answer when the decision is `approve`. Default: yes. */
  approve?: boolean;
  /** Default: not denied by `decide(rel, 'read')`. */
  canRead?: (rel: string) => boolean;
  limits?: Partial<ToolLimits>;
  session?: Partial<SessionIdentity>;
  /** The call's abort signal (default: never aborted). */
  signal?: AbortSignal;
  /** Runs after the check, before the tool acts: where a spec plants a race. */
  afterAuthorize?: (target: AuthorizedPath) => void;
}

export interface AuthorizeCall {
  path: string;
  action: Action;
  rel: string;
  decision: Verdict;
}

export interface TestToolContext extends ToolContext {
  readonly authorizations: AuthorizeCall[];
  readonly previews: string[];
  readonly mutations: string[];
  readonly observations: string[];
  /** the stats passed with each observation (undefined: the tool let the broker stat the path) */
  readonly observedStats: Array<BigIntStats | undefined>;
}

export function testToolContext(workspace: string, options: TestToolContextOptions = {}): TestToolContext {
  const root = fs.realpathSync(workspace);
  const authorizations: AuthorizeCall[] = [];
  const previews: string[] = [];
  const mutations: string[] = [];
  const observations: string[] = [];
  const observedStats: Array<BigIntStats | undefined> = [];
  const refuse = (message: string, rel: string | null = null) => new ToolRefusal(message, 'deny', 'test', rel);

  return {
    session: {
      id: 'test-session',
      role: 'impl',
      depth: 0,
      parentId: null,
      rootId: 'test-session',
      taskId: null,
      chainId: null,
      ...options.session,
    },
    workspace: root,
    limits: { ...DEFAULT_TOOL_LIMITS, ...options.limits },
    signal: options.signal ?? new AbortController().signal,
    broker: {
      checkSpawn: () => { throw new Error('no broker in unit specs'); },
      spawnChild: () => Promise.reject(new Error('no broker in unit specs')),
    },
    authorizations,
    previews,
    mutations,
    observations,
    observedStats,

    async authorize(requested, action, preview) {
      const target = await canonicalize(root, requested);
      const { rel } = target;
      const resolved: Action = action === 'write' ? (target.exists ? 'modify' : 'create') : action;
      const decision = options.decide?.(rel, resolved) ?? 'allow';
      authorizations.push({ path: requested, action: resolved, rel, decision });
      if (decision === 'deny') throw refuse(`${resolved} ${rel} is denied by policy`, rel);
      if (decision === 'approve') {
        if (preview) previews.push(await preview(target));
        if (options.approve === false) throw new ToolRefusal(`${resolved} ${rel} was rejected`, 'rejected', 'test', rel);
      }
      options.afterAuthorize?.(target);
      return target;
    },
    canRead: (rel) => options.canRead?.(rel) ?? options.decide?.(rel, 'read') !== 'deny',
    root: () => workspaceRoot(root),
    resolve: (requested) => canonicalize(root, requested),
    async mutate(target, effect) {
      mutations.push(target.rel);
      return effect();
    },
    async observed(target, stats) {
      observations.push(target.rel);
      observedStats.push(stats);
    },
    get commands(): never {
      throw new Error('run_command needs the real broker: spec/capabilities/run-command.spec.ts builds one');
    },
  };
}

// One way to make and remove throwaway workspaces across the specs.
export { makeWorkspace as tempWorkspace, removeWorkspace } from './cli.js';

/** Every file under `dir` with its content (symlinks as `-> target`), for "nothing changed" assertions. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (abs: string, rel: string): void => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymbolicLink()) out[childRel] = `-> ${fs.readlinkSync(childAbs)}`;
      else if (entry.isDirectory()) {
        out[`${childRel}/`] = '';
        visit(childAbs, childRel);
      } else out[childRel] = fs.readFileSync(childAbs, 'latin1');
    }
  };
  visit(dir, '');
  return out;
}

/** Run a capability as the broker would (input assumed schema-valid) and return its text. */
export async function runTool<I>(capability: Capability, ctx: ToolContext, input: I): Promise<string> {
  const result = await capability.run(ctx, input as never);
  return typeof result === 'string' ? result : result.content;
}

export { rejection } from './assertions.js';
