// Types of the governance file and of a decision. No code here.

export const ROLES = ['control', 'impl'] as const;
export type Role = (typeof ROLES)[number];

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
  allow?: Rule[];
  approve?: Rule[];
  deny?: Rule[];
  tools?: string[];
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
  roles?: Partial<Record<Role, RoleSection>>;
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
  decide(role: Role, action: Action, path: string): Decision;
  /** The `commands` rules' decision for an argv (no built-in refusals: see policy/command-guard.ts). */
  decideCommand(role: Role, argv: readonly string[]): Decision;
  /** Whether any `commands` allow or approve rule is in force for the role (run_command is offered only then). */
  allowsCommands(role: Role): boolean;
  /** Tools granted by `roles.<role>.tools`, or undefined to use the defaults. */
  toolsFor(role: Role): readonly string[] | undefined;
  /** The rules that can affect a path for this role, for the manifest. */
  rulesFor(role: Role): { reads: unknown; mutations: unknown; commands: unknown };
}
