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

export interface RoleSection {
  allow?: Rule[];
  approve?: Rule[];
  deny?: Rule[];
  tools?: string[];
}

export interface Limits {
  max_depth?: number;
  max_parallel?: number;
}

/** The parsed file, as written (after validation). */
export interface GovernanceFile {
  mutations?: { allow?: Rule[]; approve?: Rule[]; deny?: Rule[] };
  reads?: { deny?: Rule[] };
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
  /** The same policy deciding on case-folded paths, for a case-folding workspace (policy/case-folding.ts). */
  folded(): CompiledPolicy;
  /** Tools granted by `roles.<role>.tools`, or undefined to use the defaults. */
  toolsFor(role: Role): readonly string[] | undefined;
  /** The rules that can affect a path for this role, for the manifest. */
  rulesFor(role: Role): { reads: unknown; mutations: unknown };
}
