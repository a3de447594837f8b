// The capability manifest as text a reviewer can sign: every value the JSON
// carries, in words. It is derived from the manifest object itself, walking
// whatever it holds: a role's rule sets (any object of rule lists, such as
// `reads`, `mutations` or `commands`) are gathered from its tools and shown
// once per role with the actions each tool asks for; limits, output caps and
// schemas get readable forms; any other key, today's or one added later, is
// shown as `key: value`. So the text cannot sign less than the JSON does.
// Pure; every string goes through the terminal sanitizer.
import { termLine } from './terminal/text.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is null | boolean | number | string => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** A rule: an object naming its rule id. */
const isRule = (v: unknown): v is Obj => isObj(v) && typeof v.rule === 'string';

/** A rule set: lists of rules by decision (deny, approve, allow, …), maybe a default. */
function isRuleSet(v: unknown): v is Obj {
  if (!isObj(v)) return false;
  const lists = Object.values(v).filter(Array.isArray);
  return lists.length > 0 && lists.every((l) => l.every(isRule)) && Object.values(v).every((x) => Array.isArray(x) || isScalar(x));
}

function scalar(v: Json): string {
  return v === null ? '-' : typeof v === 'string' ? termLine(v) : String(v);
}

/** One line for a scalar, a list of scalars or a flat object; null when the value needs a block. */
function inline(v: Json): string | null {
  if (isScalar(v)) return scalar(v);
  if (Array.isArray(v)) return v.every(isScalar) ? (v.length ? v.map(scalar).join(', ') : '(none)') : null;
  const entries = Object.entries(v);
  return entries.every(([, x]) => isScalar(x)) ? entries.map(([k, x]) => `${termLine(k)} ${scalar(x)}`).join(' · ') || '(none)' : null;
}

/** Any value under its key: one line when it fits on one, else an indented block. */
function block(key: string, v: Json, indent: string): string[] {
  if (isRuleSet(v)) return ruleSet(key, v, indent);
  const one = inline(v);
  if (one !== null) return [`${indent}${termLine(key)}: ${one}`];
  const entries: Array<[string, Json]> = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v as unknown as Obj);
  return [`${indent}${termLine(key)}:`, ...entries.flatMap(([k, x]) => block(k, x, `${indent}  `))];
}

// --- rules --------------------------------------------------------------------

/** `deny  **\/.env*  actions create, modify  reason "…"  (mutations.deny[0])`. */
function ruleLine(kind: string, rule: Obj, indent: string): string {
  const parts = Object.entries(rule)
    .filter(([k]) => k !== 'rule')
    .map(([k, v], i) => {
      const shown = k === 'argv' && Array.isArray(v) ? termLine(JSON.stringify(v)) : k === 'reason' ? `"${scalar(v)}"` : inline(v) ?? termLine(JSON.stringify(v));
      return i === 0 && (k === 'pattern' || k === 'argv') ? shown : `${termLine(k)} ${shown}`;
    });
  return `${indent}${termLine(kind).padEnd(8)} ${parts.join('  ')}  (${termLine(String(rule.rule))})`;
}

/** Rules in the policy's order: by list (`roles.impl.deny`, as first met), then by index in it. */
function inPolicyOrder(rules: Obj[]): Obj[] {
  const place = (r: Obj) => /^(.*?)(?:\[(\d+)\])?$/.exec(String(r.rule))!;
  const lists: string[] = [];
  for (const r of rules) if (!lists.includes(place(r)[1]!)) lists.push(place(r)[1]!);
  const key = (r: Obj) => [lists.indexOf(place(r)[1]!), Number(place(r)[2] ?? 0)];
  return [...rules].sort((a, b) => key(a)[0]! - key(b)[0]! || key(a)[1]! - key(b)[1]!);
}

function ruleSet(key: string, set: Obj, indent: string, note = ''): string[] {
  const out = [`${indent}${termLine(key)}${note}:`];
  const lists = Object.entries(set).filter(([, v]) => Array.isArray(v)) as Array<[string, Obj[]]>;
  for (const [kind, rules] of lists) for (const r of inPolicyOrder(rules)) out.push(ruleLine(kind, r, `${indent}  `));
  if (lists.every(([, rules]) => rules.length === 0)) out.push(`${indent}  (no rules)`);
  for (const [k, v] of Object.entries(set)) {
    if (Array.isArray(v)) continue;
    out.push(k === 'default' ? `${indent}  otherwise ${scalar(v)}` : `${indent}  ${termLine(k)}: ${scalar(v)}`);
  }
  return out;
}

/** The rule sets of all tools of a role, merged by key: each rule once, in the order first met. */
function gatherRuleSets(tools: Obj[]): Map<string, { set: Obj; askedBy: Set<string> }> {
  const sets = new Map<string, { set: Obj; askedBy: Set<string>; seen: Set<string> }>();
  for (const tool of tools) {
    const rules = isObj(tool.rules) ? tool.rules : {};
    for (const [key, value] of Object.entries(rules)) {
      if (!isRuleSet(value)) continue;
      let entry = sets.get(key);
      if (!entry) sets.set(key, (entry = { set: {}, askedBy: new Set(), seen: new Set() }));
      entry.askedBy.add(String(tool.name));
      for (const [k, v] of Object.entries(value)) {
        if (!Array.isArray(v)) {
          entry.set[k] ??= v;
          continue;
        }
        const list = (entry.set[k] ??= []) as Json[];
        for (const rule of v) {
          const id = JSON.stringify(rule);
          if (!entry.seen.has(id)) list.push(rule);
          entry.seen.add(id);
        }
      }
    }
  }
  return sets;
}

// --- tools ----------------------------------------------------------------------

const SCHEMA_WORDS = new Set(['type', 'description', 'items']);

function typeOf(schema: Obj): string {
  if (Array.isArray(schema.anyOf)) return schema.anyOf.map((s) => (isObj(s) ? typeOf(s) : '?')).join(' or ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const base = typeof schema.type === 'string' ? schema.type : Array.isArray(schema.type) ? schema.type.join(' or ') : 'any';
  return base === 'array' && isObj(schema.items) ? `array of ${typeOf(schema.items)}` : base;
}

/** `path  string, required, minLength 1: File path relative to …`. */
function fieldLines(schema: Obj, indent: string): string[] {
  const props = isObj(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  const width = Math.max(0, ...Object.keys(props).map((k) => termLine(k).length));
  const out = [`${indent}input: ${typeOf(schema)}${schema.additionalProperties === false ? ' of these fields only' : ''}`];
  out.push(...Object.entries(props).map(([name, raw]) => {
    const s = isObj(raw) ? raw : {};
    const facts = [typeOf(s), required.has(name) ? 'required' : 'optional'];
    for (const [k, v] of Object.entries(s)) if (!SCHEMA_WORDS.has(k) && k !== 'anyOf' && k !== 'const') facts.push(`${termLine(k)} ${inline(v) ?? termLine(JSON.stringify(v))}`);
    if (isObj(s.items)) for (const [k, v] of Object.entries(s.items)) if (!SCHEMA_WORDS.has(k)) facts.push(`items ${termLine(k)} ${inline(v) ?? termLine(JSON.stringify(v))}`);
    return `${indent}  ${termLine(name).padEnd(width)}  ${facts.join(', ')}${typeof s.description === 'string' ? `: ${termLine(s.description)}` : ''}`;
  }));
  if (out.length === 1) out.push(`${indent}  (no fields)`);
  for (const [k, v] of Object.entries(schema)) {
    if (!['type', 'properties', 'required', 'additionalProperties'].includes(k)) out.push(...block(`schema ${k}`, v, indent));
  }
  return out;
}

function toolLines(tool: Obj, indent: string, described: Map<string, string>, where: string): string[] {
  const name = String(tool.name);
  const rules = isObj(tool.rules) ? tool.rules : {};
  const actions = Array.isArray(rules.actions) ? rules.actions.map(scalar).join(', ') : '';
  const out = [`${indent}${termLine(name)}${actions ? `  (asks for: ${actions})` : ''}`];
  const inner = `${indent}  `;
  for (const [k, v] of Object.entries(rules)) if (k !== 'actions' && !isRuleSet(v)) out.push(...block(k, v, inner));
  // A tool's fields and description are the same in every role that has it: shown once.
  const key = JSON.stringify([name, tool.description, tool.input_schema]);
  const first = described.get(key);
  if (first) out.push(`${inner}fields and description as in ${first} above`);
  else {
    described.set(key, where);
    out.push(...fieldLines(isObj(tool.input_schema) ? tool.input_schema : {}, inner));
    if (typeof tool.description === 'string') out.push(`${inner}about: ${termLine(tool.description)}`);
  }
  for (const [k, v] of Object.entries(tool)) if (!['name', 'rules', 'description', 'input_schema'].includes(k)) out.push(...block(k, v, inner));
  return out;
}

// --- limits -----------------------------------------------------------------------

const bytes = (n: number) => (n >= 1024 * 1024 && n % (1024 * 1024) === 0 ? `${n} bytes (${n / 1024 / 1024} MiB)` : `${n} bytes`);

/** The output caps, in words; a cap not listed here is shown by its name. */
const CAP_WORDS: Record<string, (n: number) => string> = {
  readLines: (n) => `read_file shows at most ${n} lines at a time`,
  lineLength: (n) => `a line of read or search output is cut at ${n} characters`,
  outputBytes: (n) => `any tool's output is cut at ${bytes(n)}`,
  searchMatches: (n) => `search_files stops at ${n} matches`,
  listEntries: (n) => `list_files stops at ${n} entries`,
  writeBytes: (n) => `write_file and edit_file take at most ${bytes(n)}`,
};

function limitLines(limits: Json, indent: string): string[] {
  if (!isObj(limits)) return block('limits', limits, indent);
  const { tool_output: caps, ...rest } = limits;
  const out = block('limits', rest as Json, indent);
  if (isObj(caps)) {
    out.push(`${indent}output caps:`);
    for (const [k, v] of Object.entries(caps)) {
      out.push(`${indent}  ${typeof v === 'number' && CAP_WORDS[k] ? CAP_WORDS[k](v) : `${termLine(k)}: ${inline(v) ?? termLine(JSON.stringify(v))}`}`);
    }
  } else if (caps !== undefined) out.push(...block('output caps', caps, indent));
  return out;
}

// --- the whole ----------------------------------------------------------------------

function roleLines(role: Obj, described: Map<string, string>): string[] {
  const name = termLine(String(role.role));
  const tools = Array.isArray(role.tools) ? role.tools.filter(isObj) : [];
  const out = [`role ${name}`, `  hash: ${scalar(role.hash ?? null)}`];
  for (const [k, v] of Object.entries(role)) {
    if (k === 'role' || k === 'hash' || k === 'tools') continue;
    out.push(...(k === 'limits' ? limitLines(v, '  ') : block(k, v, '  ')));
  }
  for (const [key, { set, askedBy }] of gatherRuleSets(tools)) {
    out.push(...ruleSet(`${key} rules`, set, '  ', ` (asked by ${[...askedBy].map(termLine).join(', ')})`));
  }
  out.push(`  tools (${tools.length}):`);
  for (const t of tools) out.push(...toolLines(t, '    ', described, `role ${name}`));
  return out;
}

/** The text of `capabilities:manifest`: one role's manifest, or `{ roles, hash }`. */
export function manifestText(manifest: object, policy: { file: string; hash: string }): string {
  const m = manifest as Obj;
  const out = [`policy: ${termLine(policy.file)}`, `policy sha256: ${termLine(policy.hash)}`];
  const roles = isObj(m.roles) ? Object.values(m.roles).filter(isObj) : [m];
  if (isObj(m.roles)) out.push(`manifest hash: ${scalar(m.hash ?? null)} (over every role below and the policy)`);
  else out.push(`manifest hash: ${scalar(m.hash ?? null)} (role ${termLine(String(m.role))} and the policy)`);
  for (const [k, v] of Object.entries(m)) if (!['roles', 'hash', 'role', 'tools', 'limits'].includes(k) && isObj(m.roles)) out.push(...block(k, v, ''));
  const described = new Map<string, string>();
  for (const r of roles) out.push('', ...roleLines(r, described));
  return `${out.join('\n')}\n`;
}
