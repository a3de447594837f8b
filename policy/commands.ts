// The `commands` rules (DESIGN.md §4): which argv run_command may run. Pure,
// compiled once like decide.ts: a rule is one matcher per argv element.
//
// A rule matches when its argv is a prefix of the command's argv, element by
// element, each a literal or a picomatch glob matched like a path (`*` stays
// within one `/` segment, `**` crosses them); `exact: true` requires the same
// length. Order: any deny (global or the role's) -> approve (global and the
// role's) -> the role's allow when its section has `commands`, else the
// global allow -> default deny. Shells, wrappers and inline code are refused
// before these rules by policy/command-guard.ts.

import picomatch from 'picomatch';
import { quoteCommand } from './command-line.js';
import { PolicyError } from './errors.js';
import { ROLES, type CommandRule, type CommandRules, type Decision, type GovernanceFile, type Role } from './types.js';

/** The tool these rules govern. */
export const RUN_COMMAND_TOOL = 'run_command';

const GLOB_OPTIONS = { dot: true } as const;

type ElementTest = (arg: string) => boolean;

/** Why a rule element cannot be compiled, or null. An empty element is a literal empty argument. */
export function elementProblem(element: string): string | null {
  if (element.includes('\0')) return 'argument contains a NUL byte';
  if (isGlobElement(element) && picomatch.makeRe(element, GLOB_OPTIONS).source === '$^') {
    return `invalid glob "${element}"`;
  }
  return null;
}

/** Whether a rule element is matched as a glob (an escape counts: `\\*` is a literal star, matched by the glob engine). */
export function isGlobElement(element: string): boolean {
  return element !== '' && (picomatch.scan(element).isGlob || element.includes('\\'));
}

function compileElement(element: string, key: string): ElementTest {
  const problem = elementProblem(element);
  if (problem) throw new PolicyError(`${key}: ${problem}`, undefined, undefined, key);
  if (!isGlobElement(element)) return (arg) => arg === element;
  const re = picomatch.makeRe(element, GLOB_OPTIONS);
  return (arg) => re.test(arg);
}

export interface CompiledCommandRule {
  /** Where it lives: `commands.deny[0]`, `roles.impl.commands.allow[2]` */
  readonly id: string;
  readonly argv: readonly string[];
  readonly exact: boolean;
  readonly reason?: string;
  readonly test: (argv: readonly string[]) => boolean;
}

function compileRule(rule: CommandRule, id: string): CompiledCommandRule {
  const tests = rule.argv.map((el, i) => compileElement(el, `${id}.argv[${i}]`));
  const exact = rule.exact === true;
  return {
    id,
    argv: [...rule.argv],
    exact,
    ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
    test: (argv) => {
      if (argv.length < tests.length || (exact && argv.length !== tests.length)) return false;
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(argv[i]!)) return false;
      return true;
    },
  };
}

const KINDS = ['deny', 'approve', 'allow'] as const;
type Kind = (typeof KINDS)[number];

function compileRules(rules: CommandRules | undefined, base: string): Record<Kind, CompiledCommandRule[]> {
  const out = {} as Record<Kind, CompiledCommandRule[]>;
  for (const kind of KINDS) out[kind] = (rules?.[kind] ?? []).map((r, i) => compileRule(r, `${base}.${kind}[${i}]`));
  return out;
}

/** The rules a role's commands go through, in decision order. */
export interface CommandRulesInForce {
  readonly deny: readonly CompiledCommandRule[];
  readonly approve: readonly CompiledCommandRule[];
  readonly allow: readonly CompiledCommandRule[];
  /** Where `allow` comes from: `roles.<role>.commands` or the global `commands`. */
  readonly allowFrom: string;
}

/** Every command rule of a file, by where it applies. */
export function commandRulesInForce(source: GovernanceFile, role: Role): CommandRulesInForce {
  const global = compileRules(source.commands, 'commands');
  const section = source.roles?.[role]?.commands;
  const own = compileRules(section, `roles.${role}.commands`);
  return {
    deny: [...global.deny, ...own.deny],
    approve: [...global.approve, ...own.approve],
    allow: section !== undefined ? own.allow : global.allow,
    allowFrom: section !== undefined ? `roles.${role}.commands` : 'commands',
  };
}

/** Every command rule of the file, once each (for lint). */
export function allCommandRules(source: GovernanceFile): CompiledCommandRule[] {
  const lists = [compileRules(source.commands, 'commands')];
  for (const [role, section] of Object.entries(source.roles ?? {})) lists.push(compileRules(section?.commands, `roles.${role}.commands`));
  return lists.flatMap((l) => KINDS.flatMap((k) => l[k]));
}

/** Every argv element of every command rule with its key path, for the loader's file:line errors. */
export function commandElementsOf(source: GovernanceFile): { segments: (string | number)[]; element: string }[] {
  const sections: [(string | number)[], CommandRules | undefined][] = [[['commands'], source.commands]];
  for (const [role, section] of Object.entries(source.roles ?? {})) sections.push([['roles', role, 'commands'], section?.commands]);
  const out: { segments: (string | number)[]; element: string }[] = [];
  for (const [base, rules] of sections) {
    for (const kind of KINDS) {
      (rules?.[kind] ?? []).forEach((rule, i) => {
        rule.argv.forEach((element, j) => out.push({ segments: [...base, kind, i, 'argv', j], element }));
      });
    }
  }
  return out;
}

/** A rule's argv as a reader sees it: `npm test`, with `…` when it is a prefix. */
export function describeCommandRule(rule: { argv: readonly string[]; exact: boolean }): string {
  return `${quoteCommand(rule.argv)}${rule.exact ? '' : ' …'}`;
}

function describeForManifest(r: CompiledCommandRule) {
  return { rule: r.id, argv: r.argv, ...(r.exact ? { exact: true } : {}), ...(r.reason !== undefined ? { reason: r.reason } : {}) };
}

interface Step {
  readonly test: (argv: readonly string[]) => boolean;
  readonly decision: Decision;
}

export interface CompiledCommands {
  decide(role: Role, argv: readonly string[]): Decision;
  allowsAny(role: Role): boolean;
  rulesFor(role: Role): unknown;
}

/** Compile the commands rules of a validated file. Throws PolicyError (with `key`) on an element that cannot compile. */
export function compileCommands(source: GovernanceFile, roles: readonly Role[] = ROLES): CompiledCommands {
  const tables = new Map<Role, { deny: Step[]; approve: Step[]; allow: Step[]; inForce: CommandRulesInForce }>();
  for (const role of roles) {
    const inForce = commandRulesInForce(source, role);
    const steps = (list: readonly CompiledCommandRule[], make: (r: CompiledCommandRule) => Decision): Step[] =>
      list.map((r) => ({ test: r.test, decision: Object.freeze(make(r)) }));
    tables.set(role, {
      inForce,
      deny: steps(inForce.deny, (r) => ({ decision: 'deny', rule: r.id, reason: r.reason ?? `commands matching ${describeCommandRule(r)} may not be run` })),
      approve: steps(inForce.approve, (r) => ({
        decision: 'approve', rule: r.id, reason: r.reason ?? `running ${describeCommandRule(r)} needs a human's approval`,
      })),
      allow: steps(inForce.allow, (r) => ({ decision: 'allow', rule: r.id, reason: r.reason ?? `${describeCommandRule(r)} may be run by ${role}` })),
    });
  }

  function decide(role: Role, argv: readonly string[]): Decision {
    const table = tables.get(role);
    if (table === undefined) return { decision: 'deny', rule: 'default', reason: `unknown role: ${String(role)}` };
    for (const step of table.deny) if (step.test(argv)) return step.decision;
    for (const step of table.approve) if (step.test(argv)) return step.decision;
    for (const step of table.allow) if (step.test(argv)) return step.decision;
    return { decision: 'deny', rule: 'default', reason: `no commands allow rule for ${role} matches ${quoteCommand(argv, 200)}` };
  }

  return {
    decide,
    allowsAny: (role) => {
      const table = tables.get(role);
      return !!table && table.allow.length + table.approve.length > 0;
    },
    rulesFor: (role) => {
      const inForce = tables.get(role)?.inForce ?? commandRulesInForce(source, role);
      return {
        deny: inForce.deny.map(describeForManifest),
        approve: inForce.approve.map(describeForManifest),
        allow: inForce.allow.map(describeForManifest),
        allow_from: inForce.allowFrom,
        default: 'deny' as const,
      };
    },
  };
}
