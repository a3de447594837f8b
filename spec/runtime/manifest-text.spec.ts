// The text of capabilities:manifest signs the same thing as its JSON (issue
// 19 item 4): a walk over the JSON finds every rule and every value in the
// text, for the default policy, the test policy and a manifest carrying
// sections that do not exist yet (per-role model and spawns, command rules,
// sandbox promises), which the text must show without knowing them.
import { expect } from 'chai';
import { DEFAULT_TOOL_LIMITS } from '../../capabilities/capability.js';
import { DEFAULT_POLICY_YAML } from '../../policy/default-policy.js';
import { parsePolicy } from '../../policy/load.js';
import type { CompiledPolicy } from '../../policy/types.js';
import { builtinPrompt } from '../../runtime/broker/role-prompts.js';
import { type ManifestSettings, fullManifest, roleManifest } from '../../runtime/manifest.js';
import { manifestText } from '../../runtime/manifest-text.js';
import { termLine } from '../../runtime/terminal/text.js';
import { TEST_POLICY } from '../support/cli.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Asserts that every rule and every leaf value of `json` appears in `text`. */
function expectComplete(json: Json, text: string): number {
  const lines = text.split('\n');
  let checked = 0;
  const walk = (v: Json, path: string[]) => {
    const where = path.join('.');
    if (isObj(v) && typeof v.rule === 'string') {
      // A rule: one line names its id, its decision and every one of its values.
      const kind = path.at(-2)!;
      const values = Object.entries(v).filter(([k]) => k !== 'rule').flatMap(([, x]) => (Array.isArray(x) ? x : [x])).map((x) => termLine(String(x)));
      const line = lines.find((l) => l.includes(`(${v.rule})`) && new RegExp(`^\\s*${escapeRe(kind)}\\b`).test(l));
      expect(line, `${where}: no line for rule ${v.rule}`).to.be.a('string');
      for (const x of values) expect(line, `${where}: ${v.rule} shows ${x}`).to.include(x);
      checked++;
      return;
    }
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, [...path, String(i)]));
    if (isObj(v)) return Object.entries(v).forEach(([k, x]) => walk(x, [...path, k]));
    const key = path.at(-1)!;
    if (typeof v === 'string') expect(text, where).to.include(termLine(v));
    else if (typeof v === 'number') expect(text, where).to.match(new RegExp(`(^|[^\\d.])${escapeRe(String(v))}([^\\d.]|$)`, 'm'));
    else if (v === false && key === 'additionalProperties') expect(text, where).to.include('of these fields only');
    else expect(lines.some((l) => l.includes(key) && l.includes(String(v))), `${where}: ${key} ${v}`).to.equal(true);
    checked++;
  };
  walk(json, []);
  return checked;
}

/** Every kind of rule at once: role denies and approves, command rules of every kind, reads.deny with reasons, a custom role. */
const RICH_POLICY = `
mutations:
  deny: [{ pattern: "**/.env*", reason: "secrets" }, { pattern: "choragen.governance.yaml" }]
  approve: [{ pattern: "package.json", actions: [modify], reason: "review dependency changes" }, { pattern: "**/.github/workflows/**" }]
commands:
  deny: [{ argv: ["npm", "publish"], reason: "a human's decision" }]
  approve: [{ argv: ["npm", "install"], reason: "installs run scripts" }]
reads:
  deny: [{ pattern: "**/*.pem", reason: "keys" }, { pattern: "secret/**" }]
roles:
  impl:
    allow: [{ pattern: "src/**" }, { pattern: "test/**", actions: [create, modify] }]
    deny: [{ pattern: "src/generated/**", reason: "generated code" }]
    approve: [{ pattern: "src/config/**", reason: "config is reviewed" }]
    commands:
      allow: [{ argv: ["node", "--test"], reason: "tests" }, { argv: ["npm", "run", "lint"], exact: true }]
      deny: [{ argv: ["rm", "*"], reason: "no removal" }]
      approve: [{ argv: ["npx", "tsc"], reason: "slow" }]
  control: { allow: [{ pattern: "docs/**" }], spawns: [impl, reviewer] }
  reviewer:
    description: "Reads the change and reports"
    tools: [read_file, list_files, search_files, git_diff, run_command, complete_task]
    model: claude-haiku-4-5
    commands: { allow: [{ argv: ["node", "--test"] }] }
limits: { max_depth: 3, max_parallel: 2, command_timeout_s: 60 }
`;

const policies = { default: DEFAULT_POLICY_YAML, test: TEST_POLICY, 'custom roles, commands, reads.deny and approve': RICH_POLICY };

/** What capabilities:manifest passes: default limits, the run defaults, every role's built-in prompt. */
function settingsFor(policy: CompiledPolicy): ManifestSettings {
  const prompts = new Map(policy.roles.map((r) => [r, { source: 'built-in', text: builtinPrompt(policy, r) }]));
  return { toolLimits: DEFAULT_TOOL_LIMITS, defaults: { provider: 'anthropic', model: 'claude-sonnet-5' }, prompts };
}

describe('capabilities:manifest text', () => {
  for (const [name, yaml] of Object.entries(policies)) {
    it(`names every rule and value of the JSON (${name} policy, all roles and each role)`, () => {
      const policy = parsePolicy(yaml, `/ws/${name}.governance.yaml`);
      const full = JSON.parse(JSON.stringify(fullManifest(policy, settingsFor(policy))));
      const text = manifestText(full, policy);
      expect(expectComplete(full, text)).to.be.greaterThan(200);
      expect(text).to.include(full.hash).and.to.include(policy.hash);
      for (const role of policy.roles) {
        const one = JSON.parse(JSON.stringify(roleManifest(policy, role, settingsFor(policy))));
        const roleText = manifestText(one, policy);
        expectComplete(one, roleText);
        expect(roleText).to.include(one.hash);
      }
    });
  }

  it('shows sections and rule lists it does not know, with no second list to update', () => {
    const policy = parsePolicy(TEST_POLICY, '/ws/choragen.governance.yaml');
    const full = JSON.parse(JSON.stringify(fullManifest(policy, settingsFor(policy))));
    const impl = full.roles.impl;
    Object.assign(impl, {
      model: 'gpt-5-mini', provider: 'openai', spawns: ['reviewer'],
      sandbox: { network: 'none, not even loopback', writable: ['src/**', 'test/**'], env: { PATH: '/usr/bin:/bin' }, timeout_s: 120 },
    });
    impl.tools.push({
      name: 'run_command', description: 'Run an allowed argv in the sandbox.',
      input_schema: { type: 'object', required: ['argv'], additionalProperties: false, properties: {
        argv: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'program and arguments' },
        timeout_s: { type: 'integer', minimum: 1, maximum: 600 } } },
      rules: { actions: ['run'], commands: {
        deny: [{ rule: 'commands.deny[0]', argv: ['npm', 'publish'], reason: 'never publish' }],
        approve: [{ rule: 'roles.impl.commands.approve[0]', argv: ['npm', 'install'], exact: true }],
        allow: [{ rule: 'roles.impl.commands.allow[0]', argv: ['node', '--test'] }], default: 'deny' },
      output_bytes: 65536 },
    });
    full.roles.impl.limits.tool_output.commandOutputBytes = 65536;
    full.signed_by = { reviewer: 'ops', on: '2026-01-31' };
    const text = manifestText(full, policy);
    expectComplete(full, text);
    expect(text).to.match(/commands rules \(asked by run_command\):\n\s+deny\s+\["npm","publish"\]\s+reason "never publish"\s+\(commands\.deny\[0\]\)/);
    expect(text).to.match(/\["npm","install"\]  exact true  \(roles\.impl\.commands\.approve\[0\]\)/).and.to.include('model: gpt-5-mini').and.to.include('spawns: reviewer');
  });

  it('shows a hostile pattern or reason from the policy file only through the sanitizer', () => {
    const policy = parsePolicy(TEST_POLICY.replace('reason: "secrets are never written"', 'reason: "ok\\r\\u001b[2Khidden"'), '/ws/p.yaml');
    const text = manifestText(fullManifest(policy, settingsFor(policy)), policy);
    expect(text).to.include('ok\\r\\x1b[2Khidden');
    // eslint-disable-next-line no-control-regex
    expect(text).to.not.match(/[\x00-\x09\x0b-\x1f]/);
  });
});
