// Types of the governance file and of a decision. No code here.

/** The built-in roles: their prompts and default tools ship with choragen. */
export const ROLES = ['control', 'impl'] as const;
export type BuiltinRole = (typeof ROLES)[number];

/**
 * A role name: a built-in one or one defined under `roles:`. Which names
 * exist is a property of the loaded policy (`CompiledPolicy.roles`), so every
 * name that comes from outside (a flag, a tool call) is checked against it.
 */
export type Role = string;

/** How a role may be spelled in the policy file (and in a script). */
export const ROLE_NAME_PATTERN = '^[a-z][a-z0-9-]*$';

/** The model endpoints a role may name (`--provider script` replaces them all in an offline run). */
export const ROLE_PROVIDERS = ['anthropic', 'openai'] as const;
export type RoleProvider = (typeof ROLE_PROVIDERS)[number];

/** What a built-in role may start when its section has neither `spawns` nor `tools`. */
export const DEFAULT_SPAWNS: Readonly<Record<BuiltinRole, readonly Role[]>> = { control: ['impl'], impl: [] };

/** The tool that starts an impl child: a role whose `tools` lists it, without `spawns`, may start impl. */
export const SPAWN_IMPL_TOOL = 'spawn_impl_session';

/** What a parent is told about a built-in role it may start (a section's `description` replaces it). */
export const BUILTIN_ROLE_DESCRIPTIONS: Readonly<Record<BuiltinRole, string>> = {
  control: 'plans, delegates to child sessions and reviews their work',
  impl: 'edits files within the paths its role is granted, then reports',
};

export function isBuiltinRole(role: string): role is BuiltinRole {
  return (ROLES as readonly string[]).includes(role);
}

export const MUTATION_ACTIONS = ['create', 'modify', 'delete', 'move'] as const;
export type MutationAction = (typeof MUTATION_ACTIONS)[number];
/** `read` is this runtime's extension: reads are governed by `reads.deny`. */
export type Action = MutationAction | 'read';

export interface Rule {
  pattern: string;
  actions?: MutationAction[];
  reason?: string;
}

/**
 * A `commands` rule (run_command): `argv` is a prefix of the command's argv,
 * element by element, each a literal or a picomatch glob; `exact` requires
 * the same length.
 */
export interface CommandRule {
  argv: string[];
  exact?: boolean;
  reason?: string;
}

export interface CommandRules {
  allow?: CommandRule[];
  approve?: CommandRule[];
  deny?: CommandRule[];
}

export interface RoleSection {
  /** One line saying what the role is for (shown to a parent that may start it). */
  description?: string;
  /** A workspace file holding the role's system prompt. */
  prompt?: string;
  tools?: string[];
  model?: string;
  provider?: RoleProvider;
  /** The roles a session of this role may start. */
  spawns?: string[];
  allow?: Rule[];
  approve?: Rule[];
  deny?: Rule[];
  /** When present, its `allow` replaces the global `commands.allow` for this role. */
  commands?: CommandRules;
}

export interface Limits {
  max_depth?: number;
  max_parallel?: number;
  /** run_command's timeout, and the most a tool call may ask for. */
  command_timeout_s?: number;
}

/** The parsed file, as written (after validation). */
export interface GovernanceFile {
  mutations?: { allow?: Rule[]; approve?: Rule[]; deny?: Rule[] };
  reads?: { deny?: Rule[] };
  commands?: CommandRules;
  roles?: Record<Role, RoleSection>;
  limits?: Limits;
  [compat: string]: unknown;
}

export type Verdict = 'allow' | 'approve' | 'deny';

export interface Decision {
  decision: Verdict;
  /** Where the deciding rule lives, e.g. `roles.impl.deny[0]`, or `default` */
  rule: string;
  reason: string;
}

/**
 * A loaded, validated policy with globs compiled once. `decide` is pure:
 * no I/O, the path is already canonical (relative to the workspace, `/`-separated).
 */
export interface CompiledPolicy {
  readonly file: string;
  readonly source: GovernanceFile;
  /** SHA-256 hex of the normalized policy (what a reviewer signs) */
  readonly hash: string;
  readonly limits: Required<Limits>;
  /** Every role a session may have: the built-in ones, then the file's own in file order. */
  readonly roles: readonly Role[];
  hasRole(name: string): boolean;
  /** The role's section of the file as written (undefined when it has none). */
  section(role: Role): Readonly<RoleSection> | undefined;
  decide(role: Role, action: Action, path: string): Decision;
  /** The `commands` rules' decision for an argv (no built-in refusals: see policy/command-guard.ts). */
  decideCommand(role: Role, argv: readonly string[]): Decision;
  /** Whether any `commands` allow or approve rule is in force for the role (run_command is offered only then). */
  allowsCommands(role: Role): boolean;
  /** The same policy deciding on case-folded paths, for a case-folding workspace (policy/case-folding.ts). */
  folded(): CompiledPolicy;
  /** Tools granted by `roles.<role>.tools`, or undefined to use the defaults. */
  toolsFor(role: Role): readonly string[] | undefined;
  /**
   * The roles a session of `role` may start: `roles.<role>.spawns`; without
   * it, impl when the role's `tools` lists spawn_impl_session; with neither,
   * the built-in default (control: impl), else none.
   */
  spawnsFor(role: Role): readonly Role[];
  /** The line of a key of the file (`['roles', 'reviewer', 'prompt']`), for problems found after loading. */
  lineOf(key: readonly (string | number)[]): number | undefined;
  /** The rules that can affect a path for this role, for the manifest. */
  rulesFor(role: Role): { reads: unknown; mutations: unknown; commands: unknown };
}
