// The decision function (DESIGN.md §4): pure, no I/O, globs compiled once.
//
// compilePolicy() precomputes, for every (role, action), the ordered rule
// lists that apply and the Decision object each rule returns, so decide()
// only runs matchers and returns a shared, frozen Decision: no allocation on
// any path except the default deny, whose reason names the path.

import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { compileCommands } from './commands.js';
import { foldCase, foldPath } from './case-folding.js';
import { PolicyError } from './errors.js';
import {
  DEFAULT_SPAWNS,
  MUTATION_ACTIONS,
  ROLES,
  SPAWN_IMPL_TOOL,
  isBuiltinRole,
  type Action,
  type CompiledPolicy,
  type Decision,
  type GovernanceFile,
  type Limits,
  type MutationAction,
  type Role,
  type Rule,
  type RoleSection,
} from './types.js';

export const DEFAULT_LIMITS: Readonly<Required<Limits>> = Object.freeze({ max_depth: 2, max_parallel: 4, command_timeout_s: 120 });

const GLOB_OPTIONS = { dot: true } as const;

export type Matcher = (path: string) => boolean;

/** Why a glob cannot be compiled, or null when it can. */
export function globProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'empty pattern';
  if (pattern.includes('\0')) return 'pattern contains a NUL byte';
  // picomatch does not throw on a broken glob: it returns a regex that never
  // matches (`$^`). A deny rule that silently matches nothing is exactly what
  // must not load, so treat it as an error.
  if (picomatch.makeRe(pattern, GLOB_OPTIONS).source === '$^') return `invalid glob "${pattern}"`;
  return null;
}

/**
 * A matcher for one pattern: string equality for literal paths, else the
 * compiled regex. `fold`: for a case-folding workspace, the pattern is
 * folded here and the path is folded by the caller (see foldPath).
 */
export function compileGlob(pattern: string, fold = false): Matcher {
  const problem = globProblem(pattern);
  if (problem) throw new PolicyError(problem);
  const source = fold ? foldCase(pattern) : pattern;
  if (!picomatch.scan(source).isGlob && !source.includes('\\')) {
    const literal = source.startsWith('./') ? source.slice(2) : source;
    return (path) => path === literal;
  }
  const re = picomatch.makeRe(source, GLOB_OPTIONS);
  return (path) => re.test(path);
}

/** One rule of the file, with where it lives and its compiled matcher. */
export interface CompiledRule {
  readonly id: string;
  readonly pattern: string;
  readonly actions: readonly MutationAction[];
  readonly reason?: string;
  readonly test: Matcher;
}

interface Step {
  readonly test: Matcher;
  readonly decision: Decision;
}

interface Table {
  readonly deny: readonly Step[];
  /** Set when the roles section has no rules for this role: everything not denied is denied here. */
  readonly noRules: Decision | null;
  readonly approve: readonly Step[];
  readonly allow: readonly Step[];
}

const PAST: Record<Action, string> = { create: 'created', modify: 'modified', delete: 'deleted', move: 'moved', read: 'read' };
const GERUND: Record<Action, string> = { create: 'creating', modify: 'modifying', delete: 'deleting', move: 'moving', read: 'reading' };

function freeze(decision: Decision): Decision {
  return Object.freeze(decision);
}

function compileRules(rules: readonly Rule[] | undefined, base: string, fold: boolean): CompiledRule[] {
  return (rules ?? []).map((rule, i) => {
    const id = `${base}[${i}]`;
    let test: Matcher;
    try {
      test = compileGlob(rule.pattern, fold);
    } catch (err) {
      throw new PolicyError(`${id}.pattern: ${(err as Error).message}`, undefined, undefined, `${id}.pattern`);
    }
    return {
      id,
      pattern: rule.pattern,
      actions: rule.actions && rule.actions.length > 0 ? [...rule.actions] : [...MUTATION_ACTIONS],
      ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
      test,
    };
  });
}

/** A role entry counts only if it holds mutation rules; `tools` alone grants no paths. */
export function hasRules(section: RoleSection | undefined): boolean {
  return !!section && ((section.allow?.length ?? 0) + (section.approve?.length ?? 0) + (section.deny?.length ?? 0)) > 0;
}

/** The rules of a policy, grouped by where they apply. */
export interface PolicyRules {
  readonly globalDeny: readonly CompiledRule[];
  readonly globalApprove: readonly CompiledRule[];
  readonly globalAllow: readonly CompiledRule[];
  readonly readDeny: readonly CompiledRule[];
  readonly hasRoles: boolean;
  readonly roles: Readonly<Record<Role, { deny: CompiledRule[]; approve: CompiledRule[]; allow: CompiledRule[]; hasRules: boolean }>>;
}

/** The roles of a file: the built-in ones first, then the file's own in the order written. */
export function definedRoles(source: GovernanceFile): Role[] {
  return [...new Set([...ROLES, ...Object.keys(source.roles ?? {})])];
}

export function collectRules(source: GovernanceFile, fold = false): PolicyRules {
  const roles = {} as Record<Role, { deny: CompiledRule[]; approve: CompiledRule[]; allow: CompiledRule[]; hasRules: boolean }>;
  for (const role of definedRoles(source)) {
    const section = source.roles?.[role];
    roles[role] = {
      deny: compileRules(section?.deny, `roles.${role}.deny`, fold),
      approve: compileRules(section?.approve, `roles.${role}.approve`, fold),
      allow: compileRules(section?.allow, `roles.${role}.allow`, fold),
      hasRules: hasRules(section),
    };
  }
  return {
    globalDeny: compileRules(source.mutations?.deny, 'mutations.deny', fold),
    globalApprove: compileRules(source.mutations?.approve, 'mutations.approve', fold),
    globalAllow: compileRules(source.mutations?.allow, 'mutations.allow', fold),
    readDeny: compileRules(source.reads?.deny, 'reads.deny', fold),
    hasRoles: source.roles !== undefined,
    roles,
  };
}

/** The rule lists a role's mutations go through, in decision order. */
export function rulesInForce(rules: PolicyRules, role: Role) {
  const own = rules.roles[role];
  const roleGoverned = rules.hasRoles;
  const blocked = roleGoverned && !own.hasRules;
  return {
    deny: [...rules.globalDeny, ...own.deny],
    blocked,
    approve: blocked ? [] : [...rules.globalApprove, ...own.approve],
    allow: blocked ? [] : roleGoverned ? own.allow : rules.globalAllow,
    allowFrom: blocked ? 'none' : roleGoverned ? `roles.${role}` : 'mutations',
  } as const;
}

function buildTable(rules: PolicyRules, role: Role, action: MutationAction): Table {
  const inForce = rulesInForce(rules, role);
  const steps = (list: readonly CompiledRule[], make: (r: CompiledRule) => Decision): Step[] =>
    list.filter((r) => r.actions.includes(action)).map((r) => ({ test: r.test, decision: freeze(make(r)) }));
  return {
    deny: steps(inForce.deny, (r) => ({
      decision: 'deny',
      rule: r.id,
      reason: r.reason ?? `paths matching "${r.pattern}" may not be ${PAST[action]}`,
    })),
    noRules: inForce.blocked
      ? freeze({ decision: 'deny', rule: `roles.${role}`, reason: `no governance rules are defined for role ${role} in the roles section` })
      : null,
    approve: steps(inForce.approve, (r) => ({
      decision: 'approve',
      rule: r.id,
      reason: r.reason ?? `${GERUND[action]} paths matching "${r.pattern}" needs a human's approval`,
    })),
    allow: steps(inForce.allow, (r) => ({
      decision: 'allow',
      rule: r.id,
      reason: r.reason ?? `paths matching "${r.pattern}" may be ${PAST[action]}${rules.hasRoles ? ` by ${role}` : ''}`,
    })),
  };
}

/** JSON with object keys sorted at every level: the same policy always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

const READ_ALLOWED = freeze({ decision: 'allow', rule: 'reads.default', reason: 'reads are allowed unless a reads.deny rule matches' });

function describeRule(r: CompiledRule, withActions: boolean) {
  return {
    rule: r.id,
    pattern: r.pattern,
    ...(withActions ? { actions: r.actions } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

/** What a role may start (see CompiledPolicy.spawnsFor): an explicit `tools` list is all a role gets unless `spawns` says more. */
function spawnsOf(section: RoleSection | undefined, role: Role): Role[] {
  if (section?.spawns) return [...new Set(section.spawns)];
  if (section?.tools) return section.tools.includes(SPAWN_IMPL_TOOL) ? ['impl'] : [];
  return isBuiltinRole(role) ? [...DEFAULT_SPAWNS[role]] : [];
}

/**
 * Compile a validated governance file. Throws PolicyError (with `key`) on a
 * glob that cannot compile. `lineOf` locates a key in the file's text (the
 * loader passes it; a policy compiled from an object has no lines). `fold`:
 * decide on case-folded paths against case-folded patterns (a case-folding
 * workspace; see CompiledPolicy.folded).
 */
export function compilePolicy(
  source: GovernanceFile,
  file: string,
  lineOf: (key: readonly (string | number)[]) => number | undefined = () => undefined,
  fold = false,
): CompiledPolicy {
  const rules = collectRules(source, fold);
  const roles = Object.freeze(definedRoles(source));
  const commands = compileCommands(source, roles);
  const known = new Set<string>(roles);
  const tables = new Map<Role, Record<MutationAction, Table>>();
  for (const role of roles) {
    const byAction = {} as Record<MutationAction, Table>;
    for (const action of MUTATION_ACTIONS) byAction[action] = buildTable(rules, role, action);
    tables.set(role, byAction);
  }
  const spawns = new Map<Role, readonly Role[]>(roles.map((role) => [role, Object.freeze(spawnsOf(source.roles?.[role], role))]));
  const readDeny: Step[] = rules.readDeny.map((r) => ({
    test: r.test,
    decision: freeze({ decision: 'deny', rule: r.id, reason: r.reason ?? `paths matching "${r.pattern}" may not be read` }),
  }));
  const limits = Object.freeze({ ...DEFAULT_LIMITS, ...definedOnly(source.limits ?? {}) }) as Required<Limits>;
  const hash = createHash('sha256').update(canonicalJson(source)).digest('hex');

  function decide(role: Role, action: Action, given: string): Decision {
    const path = fold ? foldPath(given) : given;
    if (action === 'read') {
      for (let i = 0; i < readDeny.length; i++) if (readDeny[i].test(path)) return readDeny[i].decision;
      return READ_ALLOWED;
    }
    const table = tables.get(role)?.[action];
    if (table === undefined) {
      // Only reachable from untyped callers; the broker never passes these.
      return { decision: 'deny', rule: 'default', reason: `unknown role or action: ${String(role)} ${String(action)}` };
    }
    const { deny, approve, allow } = table;
    for (let i = 0; i < deny.length; i++) if (deny[i].test(path)) return deny[i].decision;
    if (table.noRules !== null) return table.noRules;
    for (let i = 0; i < approve.length; i++) if (approve[i].test(path)) return approve[i].decision;
    for (let i = 0; i < allow.length; i++) if (allow[i].test(path)) return allow[i].decision;
    return { decision: 'deny', rule: 'default', reason: `no allow rule for ${role} covers ${action} of ${given}` };
  }

  let foldedPolicy: CompiledPolicy | undefined;

  function rulesFor(role: Role) {
    const inForce = rulesInForce(rules, role);
    return {
      reads: { deny: rules.readDeny.map((r) => describeRule(r, false)), default: 'allow' as const },
      mutations: {
        deny: inForce.deny.map((r) => describeRule(r, true)),
        approve: inForce.approve.map((r) => describeRule(r, true)),
        allow: inForce.allow.map((r) => describeRule(r, true)),
        allow_from: inForce.allowFrom,
        default: 'deny' as const,
      },
      commands: commands.rulesFor(role),
    };
  }

  const policy: CompiledPolicy = Object.freeze({
    file,
    source,
    hash,
    limits,
    roles,
    hasRole: (name: string) => known.has(name),
    section: (role: Role) => (known.has(role) ? source.roles?.[role] : undefined),
    decide,
    decideCommand: commands.decide,
    allowsCommands: commands.allowsAny,
    toolsFor: (role: Role) => (known.has(role) ? source.roles?.[role]?.tools : undefined),
    spawnsFor: (role: Role) => spawns.get(role) ?? [],
    folded: () => (fold ? policy : (foldedPolicy ??= compilePolicy(source, file, lineOf, true))),
    rulesFor,
    lineOf,
  });
  return policy;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
