// loadPolicy / parsePolicy: a real choragen governance file loads, and every
// kind of mistake is one PolicyError naming file, line and key.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPolicy, parsePolicy } from '../../policy/load.js';
import { lintPolicy } from '../../policy/lint.js';
import { DEFAULT_POLICY_YAML } from '../../policy/default-policy.js';
import { PolicyError } from '../../policy/errors.js';

const FILE = 'choragen.governance.yaml';

function errorOf(text: string): PolicyError {
  try {
    parsePolicy(text, FILE);
  } catch (err) {
    expect(err).to.be.instanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

// choragen's own self-hosting governance file (jlneal/choragen, choragen.governance.yaml).
const CHORAGEN_FILE = `# Choragen Governance Schema
# Self-hosted: Choragen governs its own development

mutations:
  allow:
    # Source code
    - pattern: "packages/**/src/**/*.ts"
      actions: [create, modify]
    
    # Tests
    - pattern: "packages/**/__tests__/**/*.ts"
      actions: [create, modify, delete]

    - pattern: "docs/**/*.md"
      actions: [create, modify]

    - pattern: "templates/**/*"
      actions: [create, modify]

  approve:
    - pattern: "packages/*/package.json"
      actions: [modify]
      reason: "Package config changes require review"
    - pattern: "package.json"
      actions: [modify]
      reason: "Root package changes require review"
    - pattern: "**/tsconfig*.json"
      actions: [modify]
      reason: "TypeScript config changes require review"
    - pattern: "choragen.governance.yaml"
      actions: [modify]
      reason: "Governance changes require review"

  deny:
    # Secrets
    - pattern: "*.key"
    - pattern: "*.pem"
    - pattern: ".env*"
    
    # Git internals
    - pattern: ".git/**"
    
    # Build artifacts
    - pattern: "**/dist/**"
    - pattern: "**/node_modules/**"

collision_detection:
  strategy: "file-lock"
  on_collision: "block"
`;

// The roles section choragen added later (CHAIN-037), with its validation key.
const CHORAGEN_ROLES = `${CHORAGEN_FILE}
roles:
  impl:
    allow:
      - pattern: "packages/**/src/**/*.ts"
        actions: [create, modify]
      - pattern: "packages/**/__tests__/**/*.ts"
        actions: [create, modify, delete]
    deny:
      - pattern: "docs/tasks/**"
        actions: [move, delete]
      - pattern: "docs/requests/**"
        actions: [create, modify, move]
  control:
    allow:
      - pattern: "docs/**/*.md"
        actions: [create, modify, move, delete]
      - pattern: "AGENTS.md"
        actions: [modify]
    deny:
      - pattern: "packages/**/src/**/*.ts"
        actions: [create, modify]

validation:
  design_doc_references: true
  commands: ["pnpm build", "pnpm test"]
`;

describe('policy/load', () => {
  describe('choragen compatibility', () => {
    it("loads choragen's own governance file and decides like it", () => {
      const p = parsePolicy(CHORAGEN_FILE, FILE);
      expect(p.decide('impl', 'create', 'packages/core/src/index.ts').decision).to.equal('allow');
      expect(p.decide('impl', 'delete', 'packages/core/src/index.ts').decision).to.equal('deny');
      expect(p.decide('impl', 'modify', 'packages/cli/package.json')).to.include({ decision: 'approve', reason: 'Package config changes require review' });
      expect(p.decide('control', 'modify', '.env.local').decision).to.equal('deny');
      expect(p.decide('impl', 'modify', 'packages/core/dist/index.js').rule).to.equal('mutations.deny[4]');
      expect(p.source.collision_detection).to.deep.equal({ strategy: 'file-lock', on_collision: 'block' });
    });

    it('loads its roles section (with move actions) and its validation section', () => {
      const p = parsePolicy(CHORAGEN_ROLES, FILE);
      expect(p.decide('impl', 'move', 'docs/tasks/todo/CHAIN-1/001.md').rule).to.equal('roles.impl.deny[0]');
      expect(p.decide('control', 'move', 'docs/tasks/todo/CHAIN-1/001.md').decision).to.equal('allow');
      expect(p.decide('impl', 'modify', '.env').rule).to.equal('mutations.deny[2]');
      expect(p.decide('impl', 'modify', 'package.json').decision).to.equal('approve');
    });

    it('rejects an unknown collision strategy and accepts unknown collision keys', () => {
      expect(errorOf('collision_detection:\n  strategy: "row-lock"\n').message).to.equal(
        `${FILE}:2: collision_detection.strategy: unknown strategy "row-lock" (expected file-lock, directory-lock)`,
      );
      expect(() => parsePolicy('collision_detection:\n  strategy: file-lock\n  timeout: 5\n', FILE)).to.not.throw();
    });
  });

  describe('errors name file, line and key', () => {
    it('unknown action', () => {
      const err = errorOf('roles:\n  impl:\n    allow:\n      - pattern: "src/**"\n        actions:\n          - create\n          - rename\n');
      expect(err.message).to.equal(
        `${FILE}:7: roles.impl.allow[0].actions[1]: unknown action "rename" (expected create, modify, delete, move)`,
      );
      expect(err.line).to.equal(7);
      expect(err.key).to.equal('roles.impl.allow[0].actions[1]');
      expect(err.exitCode).to.equal(2);
    });

    it('unknown action in a flow list', () => {
      expect(errorOf('mutations:\n  allow:\n    - pattern: x\n      actions: [create, rename]\n').message).to.match(
        /^choragen\.governance\.yaml:4: mutations\.allow\[0\]\.actions\[1\]: unknown action "rename"/,
      );
    });

    it('unknown top-level key', () => {
      expect(errorOf('mutations: {}\n\nmutation:\n  deny: []\n').message).to.equal(
        `${FILE}:3: mutation: unknown key "mutation" (expected mutations, reads, commands, roles, limits, collision_detection, validation)`,
      );
    });

    it('unknown nested key and a role name that is not one', () => {
      expect(errorOf('mutations:\n  deny:\n    - pattern: x\n  alow: []\n').message).to.equal(
        `${FILE}:4: mutations.alow: unknown key "alow" (expected allow, approve, deny)`,
      );
      expect(errorOf('roles:\n  impl: {}\n  Admin:\n    allow: []\n').message).to.equal(
        `${FILE}:3: roles.Admin: invalid name "Admin": role name must start with a lowercase letter and hold only lowercase letters, digits and "-"`,
      );
      expect(errorOf('roles:\n  2nd: {}\n').key).to.equal('roles.2nd');
      expect(errorOf('reads:\n  deny:\n    - pattern: x\n      actions: [modify]\n').key).to.equal('reads.deny[0].actions');
    });

    it('bad types', () => {
      expect(errorOf('roles:\n  impl:\n    allow:\n      - pattern: 3\n').message).to.equal(
        `${FILE}:4: roles.impl.allow[0].pattern: expected a string, got number 3`,
      );
      expect(errorOf('mutations:\n  deny: "**/.env"\n').message).to.equal(`${FILE}:2: mutations.deny: expected a list, got string "**/.env"`);
      expect(errorOf('limits:\n  max_depth: 1.5\n').message).to.equal(`${FILE}:2: limits.max_depth: expected an integer, got number 1.5`);
      expect(errorOf('limits:\n  max_parallel: 0\n').key).to.equal('limits.max_parallel');
      expect(errorOf('roles:\n  impl:\n    tools: read_file\n').key).to.equal('roles.impl.tools');
    });

    it('missing pattern and empty actions', () => {
      expect(errorOf('mutations:\n  deny:\n    - reason: "no"\n').message).to.equal(`${FILE}:3: mutations.deny[0]: missing key "pattern"`);
      expect(errorOf('mutations:\n  deny:\n    - pattern: x\n      actions: []\n').message).to.equal(
        `${FILE}:4: mutations.deny[0].actions: must list at least one item`,
      );
    });

    it('invalid glob', () => {
      expect(errorOf('mutations:\n  deny:\n    - pattern: x\n    - pattern: "src/[z-a].ts"\n').message).to.equal(
        `${FILE}:4: mutations.deny[1].pattern: invalid glob "src/[z-a].ts"`,
      );
    });

    it('YAML syntax errors and duplicate keys', () => {
      expect(errorOf('mutations:\n  deny: [x\nroles: {}\n').message).to.match(/^choragen\.governance\.yaml:\d+: YAML syntax error: /);
      expect(errorOf('limits:\n  max_depth: 1\n  max_depth: 2\n').message).to.match(/^choragen\.governance\.yaml:3: YAML syntax error: Map keys must be unique/);
    });

    it('a file that is not a mapping', () => {
      expect(errorOf('- pattern: x\n').message).to.match(/^choragen\.governance\.yaml:1: the governance file must be a mapping/);
    });
  });

  it('reads an empty section (items commented out) as absent', () => {
    const p = parsePolicy('mutations:\n  deny:\n    # - pattern: x\n  allow:\n    - pattern: "**"\nreads:\n', FILE);
    expect(p.decide('impl', 'modify', 'x').decision).to.equal('allow');
  });

  it('an empty file is a policy that denies every change', () => {
    const p = parsePolicy('', FILE);
    expect(p.decide('impl', 'create', 'src/a.ts').decision).to.equal('deny');
    expect(p.decide('impl', 'read', 'src/a.ts').decision).to.equal('allow');
  });

  describe('loadPolicy', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-load-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('loads a file and keeps its path', async () => {
      const file = path.join(dir, FILE);
      fs.writeFileSync(file, CHORAGEN_FILE);
      const p = await loadPolicy(file);
      expect(p.file).to.equal(file);
      expect(p.hash).to.equal(parsePolicy(CHORAGEN_FILE, 'elsewhere.yaml').hash);
    });

    it('says to run choragen init when the file is missing', async () => {
      const err = await loadPolicy(path.join(dir, FILE)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(PolicyError);
      expect((err as Error).message).to.contain('choragen init');
      expect((err as PolicyError).exitCode).to.equal(2);
    });

    it('names the line of a mistake in a file on disk', async () => {
      const file = path.join(dir, FILE);
      fs.writeFileSync(file, 'mutations:\n  deny:\n    - pattern: x\n      actions: [erase]\n');
      const err = (await loadPolicy(file).catch((e: unknown) => e)) as PolicyError;
      expect(err.message).to.match(/choragen\.governance\.yaml:4: mutations\.deny\[0\]\.actions\[0\]: unknown action "erase"/);
    });
  });

  describe('roles defined in the file', () => {
    const TEAM = `roles:
  control:
    allow: [{ pattern: "docs/**" }]
    spawns: [impl, reviewer]
  impl:
    allow: [{ pattern: "src/**" }]
    model: claude-haiku-4-5
  reviewer:
    description: Reads the change and reports
    prompt: docs/roles/reviewer.md
    tools: [read_file, git_diff, complete_task]
    provider: openai
    model: gpt-5-mini
`;
    const TOOLS = { knownTools: ['read_file', 'git_diff', 'write_file', 'complete_task', 'spawn_session', 'spawn_impl_session'] };

    it('any role name with description, prompt, tools, model, provider and spawns; built-in roles take the fields too', () => {
      const p = parsePolicy(TEAM, FILE, TOOLS);
      expect(p.roles).to.deep.equal(['control', 'impl', 'reviewer']);
      expect(p.hasRole('reviewer')).to.equal(true);
      expect(p.hasRole('admin')).to.equal(false);
      expect(p.section('reviewer')).to.include({ description: 'Reads the change and reports', prompt: 'docs/roles/reviewer.md', provider: 'openai', model: 'gpt-5-mini' });
      expect(p.section('impl')).to.include({ model: 'claude-haiku-4-5' });
      expect(p.spawnsFor('control')).to.deep.equal(['impl', 'reviewer']);
      expect(p.spawnsFor('reviewer')).to.deep.equal([]);
      expect(p.toolsFor('reviewer')).to.deep.equal(['read_file', 'git_diff', 'complete_task']);
      expect(p.lineOf(['roles', 'reviewer', 'prompt'])).to.equal(10);
      // A role without rules changes nothing.
      expect(p.decide('reviewer', 'modify', 'src/a.ts')).to.include({ decision: 'deny', rule: 'roles.reviewer' });
      expect(p.decide('reviewer', 'read', 'src/a.ts').decision).to.equal('allow');
    });

    it('control may start impl unless its section says otherwise; other roles start nothing unless told', () => {
      const p = parsePolicy('roles:\n  impl: {}\n  helper: {}\n', FILE);
      expect(p.spawnsFor('control')).to.deep.equal(['impl']);
      expect(p.spawnsFor('impl')).to.deep.equal([]);
      expect(p.spawnsFor('helper')).to.deep.equal([]);
      expect(p.spawnsFor('nobody')).to.deep.equal([]);
      // An explicit tools list is all a role gets unless spawns says more: spawn_impl_session in it means impl.
      const listed = parsePolicy('roles:\n  control: { tools: [read_file] }\n  impl: { tools: [read_file, spawn_impl_session] }\n', FILE);
      expect(listed.spawnsFor('control')).to.deep.equal([]);
      expect(listed.spawnsFor('impl')).to.deep.equal(['impl']);
    });

    it('an unknown tool, provider or spawned role, or a bad field, is an error naming file, line and key', () => {
      const bad = (text: string) => {
        try {
          parsePolicy(text, FILE, TOOLS);
        } catch (err) {
          expect(err).to.be.instanceOf(PolicyError);
          return (err as PolicyError).message;
        }
        throw new Error('expected a PolicyError');
      };
      expect(bad(TEAM.replace('tools: [read_file, git_diff', 'tools: [read_file, git_dif'))).to.equal(
        `${FILE}:11: roles.reviewer.tools[1]: unknown tool "git_dif" (expected read_file, git_diff, write_file, complete_task, spawn_session, spawn_impl_session)`,
      );
      expect(bad(TEAM.replace('provider: openai', 'provider: gemini'))).to.equal(
        `${FILE}:12: roles.reviewer.provider: unknown provider "gemini" (expected anthropic, openai)`,
      );
      expect(bad(TEAM.replace('spawns: [impl, reviewer]', 'spawns: [impl, reviwer]'))).to.equal(
        `${FILE}:4: roles.control.spawns[1]: unknown role "reviwer" (defined: control, impl, reviewer)`,
      );
      expect(bad(TEAM.replace('model: gpt-5-mini', 'model: ""'))).to.equal(`${FILE}:13: roles.reviewer.model: must not be empty`);
      expect(bad(TEAM.replace('    model: gpt-5-mini', '    modle: gpt-5-mini'))).to.match(
        new RegExp(`^${FILE}:13: roles.reviewer.modle: unknown key "modle" \\(expected description, prompt, tools, model, provider, spawns, allow, approve, deny, commands\\)$`),
      );
      expect(bad(TEAM.replace('spawns: [impl, reviewer]', 'spawns: [impl, Reviewer]'))).to.match(/:4: roles\.control\.spawns\[1\]: /);
    });
  });

  describe('the default policy (choragen init)', () => {
    const p = parsePolicy(DEFAULT_POLICY_YAML, FILE);

    it('its commented reviewer example loads once uncommented', () => {
      const uncommented = DEFAULT_POLICY_YAML
        .replace('    # spawns: [impl, reviewer]', '    spawns: [impl, reviewer]')
        .replace(/^  # (reviewer:|  [a-z]+:)/gm, '  $1');
      expect(uncommented).to.not.equal(DEFAULT_POLICY_YAML);
      const q = parsePolicy(uncommented, FILE, { knownTools: ['read_file', 'list_files', 'search_files', 'git_diff', 'complete_task'] });
      expect(q.roles).to.deep.equal(['control', 'impl', 'reviewer']);
      expect(q.section('reviewer')).to.include({ provider: 'openai', model: 'gpt-5-mini', prompt: 'docs/roles/reviewer.md' });
      expect(q.spawnsFor('control')).to.deep.equal(['impl', 'reviewer']);
      expect(lintPolicy(q)).to.deep.equal([]);
    });

    it('loads with our loader and lints clean', () => {
      expect(lintPolicy(p)).to.deep.equal([]);
      expect(p.limits).to.deep.equal({ max_depth: 2, max_parallel: 4, command_timeout_s: 120 });
      expect(p.toolsFor('impl')).to.equal(undefined);
      expect(p.toolsFor('control')).to.equal(undefined);
    });

    it('protects secrets, git, its own policy and choragen state from every role', () => {
      for (const role of ['impl', 'control'] as const) {
        for (const target of ['.env', 'src/.env.local', 'certs/server.pem', 'keys/id.key', '.git/config', FILE, '.choragen/audit/run.jsonl']) {
          expect(p.decide(role, 'modify', target).decision, `${role} modify ${target}`).to.equal('deny');
        }
        for (const target of ['.env', 'a/.env.test', 'x.key', 'y/z.pem', '.git/HEAD', '.choragen/metrics.duckdb']) {
          expect(p.decide(role, 'read', target).decision, `${role} read ${target}`).to.equal('deny');
        }
        expect(p.decide(role, 'read', 'src/index.ts').decision).to.equal('allow');
      }
    });

    it('lets impl change code, tests and docs but not move or delete tasks', () => {
      for (const target of ['src/a.ts', 'lib/b.js', 'test/c.ts', 'spec/d.spec.ts', 'docs/design.md']) {
        for (const action of ['create', 'modify', 'delete', 'move'] as const) {
          expect(p.decide('impl', action, target).decision, `${action} ${target}`).to.equal('allow');
        }
      }
      expect(p.decide('impl', 'modify', 'docs/tasks/todo/CHAIN-001/001-x.md').decision).to.equal('allow');
      expect(p.decide('impl', 'move', 'docs/tasks/todo/CHAIN-001/001-x.md').rule).to.equal('roles.impl.deny[0]');
      expect(p.decide('impl', 'delete', 'docs/tasks/todo/CHAIN-001/001-x.md').decision).to.equal('deny');
      expect(p.decide('impl', 'create', 'README.md').decision).to.equal('deny');
    });

    it('lets control manage docs and tasks but not code', () => {
      expect(p.decide('control', 'move', 'docs/tasks/todo/CHAIN-001/001-x.md').decision).to.equal('allow');
      expect(p.decide('control', 'create', 'docs/tasks/backlog/CHAIN-002/001-y.md').decision).to.equal('allow');
      expect(p.decide('control', 'modify', 'src/a.ts').decision).to.equal('deny');
    });

    it('keeps nested git repositories and files that make a machine run code out of reach, each with a reason', () => {
      const denied = [
        'src/.git/hooks/pre-commit', 'src/.git/config', 'src/.git', 'src/vendor/lib/.git/HEAD', 'src/.envrc',
        'src/.npmrc', 'src/.yarnrc.yml', 'src/.pnpmfile.cjs', 'src/.husky/pre-commit', 'src/.githooks/pre-push',
        'src/lefthook.yml', 'src/.lefthook.toml', 'src/lefthook-local.yaml', 'src/.lefthook/pre-commit/x.sh', 'src/.pre-commit-config.yaml',
      ];
      for (const target of denied) {
        for (const action of ['create', 'modify', 'move', 'delete'] as const) {
          const d = p.decide('impl', action, target);
          expect(d.decision, `${action} ${target}`).to.equal('deny');
          expect(d.rule, `${action} ${target}`).to.match(/^mutations\.deny\[\d+\]$/);
          expect(d.reason, target).to.match(/run|secret|git/);
        }
      }
      const approved = ['src/.github/workflows/ci.yml', '.github/workflows/ci.yml', 'src/.gitlab-ci.yml', 'src/.circleci/config.yml',
        'src/.gitattributes', '.gitmodules', 'src/.vscode/tasks.json', '.vscode/settings.json', '.devcontainer/devcontainer.json'];
      for (const target of approved) {
        const d = p.decide('impl', 'create', target);
        expect(d.decision, target).to.equal('approve');
        expect(d.reason, target).to.match(/run|command|fetch/);
      }
      for (const target of ['src/.git/config', 'a/.git/HEAD', '.npmrc', 'src/.npmrc']) expect(p.decide('impl', 'read', target).decision, target).to.equal('deny');
      for (const target of ['src/.gitignore', 'src/.github/README.md', '.vscode/extensions.json', 'src/husky.ts']) {
        expect(p.decide('impl', 'read', target).decision, target).to.equal('allow');
      }
      expect(p.decide('impl', 'create', 'src/.gitignore').decision).to.equal('allow');
    });

    it('asks a human before package.json changes', () => {
      expect(p.decide('impl', 'modify', 'package.json')).to.deep.equal({
        decision: 'approve',
        rule: 'mutations.approve[0]',
        reason: 'review dependency changes',
      });
    });
  });
});
