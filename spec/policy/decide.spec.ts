// decide(): restates choragen's role-governance and checker tests as specs of
// our decision function (they must agree), then the cases choragen got wrong
// (global denies under a roles section) and our extensions (reads, move).
import { expect } from 'chai';
import { compilePolicy } from '../../policy/decide.js';
import type { GovernanceFile } from '../../policy/types.js';

const compile = (source: GovernanceFile) => compilePolicy(source, 'test.yaml');

describe('policy/decide', () => {
  describe('agrees with choragen role governance', () => {
    const policy = compile({
      mutations: { allow: [{ pattern: '**/*', actions: ['create', 'modify', 'delete'] }], approve: [], deny: [] },
      roles: {
        impl: {
          allow: [
            { pattern: 'packages/**/src/**/*.ts', actions: ['create', 'modify'] },
            { pattern: 'packages/**/__tests__/**/*.ts', actions: ['create', 'modify', 'delete'] },
          ],
          deny: [
            { pattern: 'docs/tasks/**/*', actions: ['create', 'modify', 'delete'], reason: 'impl cannot modify task files' },
            { pattern: 'docs/requests/**/*', actions: ['create', 'modify', 'delete'] },
          ],
        },
        control: {
          allow: [
            { pattern: 'docs/**/*.md', actions: ['create', 'modify', 'delete'] },
            { pattern: 'AGENTS.md', actions: ['modify'] },
          ],
          deny: [{ pattern: 'packages/**/src/**/*.ts', actions: ['create', 'modify'], reason: 'control cannot write source code' }],
        },
      },
    });

    it('lets impl create and modify source files', () => {
      expect(policy.decide('impl', 'create', 'packages/core/src/governance/types.ts').decision).to.equal('allow');
      expect(policy.decide('impl', 'modify', 'packages/core/src/governance/types.ts').decision).to.equal('allow');
    });

    it('lets impl create and delete test files', () => {
      expect(policy.decide('impl', 'create', 'packages/core/src/governance/__tests__/new-test.test.ts').decision).to.equal('allow');
      expect(policy.decide('impl', 'delete', 'packages/core/src/governance/__tests__/old-test.test.ts').decision).to.equal('allow');
    });

    it('denies impl modifying task files, with the rule reason', () => {
      const d = policy.decide('impl', 'modify', 'docs/tasks/todo/some-task.md');
      expect(d).to.deep.equal({ decision: 'deny', rule: 'roles.impl.deny[0]', reason: 'impl cannot modify task files' });
    });

    it('denies impl creating request files', () => {
      const d = policy.decide('impl', 'create', 'docs/requests/change-requests/todo/CR-001.md');
      expect(d.decision).to.equal('deny');
      expect(d.rule).to.equal('roles.impl.deny[1]');
    });

    it('denies impl deleting source files (no allow rule covers delete)', () => {
      const d = policy.decide('impl', 'delete', 'packages/core/src/governance/types.ts');
      expect(d.decision).to.equal('deny');
      expect(d.rule).to.equal('default');
      expect(d.reason).to.equal('no allow rule for impl covers delete of packages/core/src/governance/types.ts');
    });

    it('lets control create documentation and modify AGENTS.md', () => {
      expect(policy.decide('control', 'create', 'docs/design/core/features/new-feature.md').decision).to.equal('allow');
      expect(policy.decide('control', 'modify', 'AGENTS.md').decision).to.equal('allow');
    });

    it('denies control writing source code, with the rule reason', () => {
      expect(policy.decide('control', 'create', 'packages/core/src/new-file.ts')).to.deep.equal({
        decision: 'deny',
        rule: 'roles.control.deny[0]',
        reason: 'control cannot write source code',
      });
      expect(policy.decide('control', 'modify', 'packages/core/src/governance/types.ts').decision).to.equal('deny');
    });

    it('does not fall back to the global allow when a roles section exists', () => {
      expect(policy.decide('impl', 'create', 'README.md').decision).to.equal('deny');
    });
  });

  describe('agrees with choragen fallback behaviour (no roles section)', () => {
    const policy = compile({
      mutations: {
        allow: [{ pattern: 'src/**/*.ts', actions: ['create', 'modify'] }],
        approve: [],
        deny: [{ pattern: '*.secret', actions: ['create', 'modify', 'delete'] }],
      },
    });

    it('uses the global allow rules', () => {
      expect(policy.decide('impl', 'create', 'src/index.ts')).to.include({ decision: 'allow', rule: 'mutations.allow[0]' });
    });

    it('applies the global deny rules', () => {
      expect(policy.decide('impl', 'create', 'config.secret')).to.include({ decision: 'deny', rule: 'mutations.deny[0]' });
    });
  });

  it('agrees with choragen: a role without rules in the roles section is denied everything', () => {
    const policy = compile({
      mutations: { allow: [{ pattern: '**/*', actions: ['create', 'modify', 'delete'] }] },
      roles: { impl: { allow: [{ pattern: 'src/**/*.ts', actions: ['create', 'modify'] }], deny: [] } },
    });
    const d = policy.decide('control', 'create', 'docs/readme.md');
    expect(d.decision).to.equal('deny');
    expect(d.rule).to.equal('roles.control');
    expect(d.reason.toLowerCase()).to.contain('no governance rules are defined for role control');
  });

  it('treats a role entry with only tools as having no rules', () => {
    const policy = compile({ roles: { impl: { allow: [{ pattern: '**' }] }, control: { tools: ['read_file'] } } });
    expect(policy.decide('control', 'create', 'docs/x.md')).to.include({ decision: 'deny', rule: 'roles.control' });
    expect(policy.decide('control', 'read', 'docs/x.md').decision).to.equal('allow');
  });

  describe('agrees with choragen: deny takes precedence over allow', () => {
    const policy = compile({
      mutations: { allow: [], approve: [], deny: [] },
      roles: {
        impl: {
          allow: [{ pattern: '**/*', actions: ['create', 'modify', 'delete'] }],
          deny: [{ pattern: '**/*.lock', actions: ['create', 'modify', 'delete'], reason: 'Lock files are protected' }],
        },
      },
    });

    it('denies what a deny rule matches', () => {
      expect(policy.decide('impl', 'modify', 'pnpm.lock')).to.include({ decision: 'deny', reason: 'Lock files are protected' });
    });

    it('allows what only the allow rule matches', () => {
      expect(policy.decide('impl', 'modify', 'package.json').decision).to.equal('allow');
    });
  });

  it('agrees with choragen backward compatibility: role allow with global rules present', () => {
    const policy = compile({
      mutations: {
        allow: [{ pattern: 'src/**/*.ts', actions: ['create', 'modify'] }],
        approve: [{ pattern: 'migrations/*.sql', actions: ['create'], reason: 'Review required' }],
        deny: [{ pattern: '*.env', actions: ['create', 'modify', 'delete'] }],
      },
      roles: { impl: { allow: [{ pattern: 'src/**/*', actions: ['create', 'modify'] }], deny: [] } },
    });
    expect(policy.decide('impl', 'create', 'src/index.ts').decision).to.equal('allow');
  });

  describe('agrees with choragen global checker', () => {
    const policy = compile({
      mutations: {
        allow: [
          { pattern: 'components/**/*.tsx', actions: ['create', 'modify'] },
          { pattern: '__tests__/**/*', actions: ['create', 'modify', 'delete'] },
        ],
        approve: [{ pattern: 'supabase/migrations/*.sql', actions: ['create', 'modify'], reason: 'Schema changes require review' }],
        deny: [
          { pattern: '*.key', actions: ['create', 'modify', 'delete'] },
          { pattern: '.env*', actions: ['create', 'modify', 'delete'] },
        ],
      },
    });

    it('allows, approves and denies like choragen', () => {
      expect(policy.decide('impl', 'create', 'components/Button/Button.tsx').decision).to.equal('allow');
      expect(policy.decide('impl', 'create', 'supabase/migrations/001_init.sql')).to.deep.equal({
        decision: 'approve',
        rule: 'mutations.approve[0]',
        reason: 'Schema changes require review',
      });
      expect(policy.decide('impl', 'create', 'secrets.key').decision).to.equal('deny');
      expect(policy.decide('impl', 'modify', '.env.local').decision).to.equal('deny');
      expect(policy.decide('impl', 'delete', '__tests__/old.test.ts').decision).to.equal('allow');
    });

    it('denies unmatched files by default', () => {
      expect(policy.decide('impl', 'create', 'random/unmatched/file.xyz')).to.include({ decision: 'deny', rule: 'default' });
    });
  });

  describe('global denies always apply (choragen let these through under role rules)', () => {
    const policy = compile({
      mutations: {
        deny: [{ pattern: '**/.env*', reason: 'secrets' }, { pattern: '.git/**' }],
        approve: [{ pattern: 'package.json', actions: ['modify'], reason: 'review deps' }],
      },
      roles: { impl: { allow: [{ pattern: '**' }] }, control: { allow: [{ pattern: 'docs/**' }] } },
    });

    it('denies .env writes even though the role allows everything', () => {
      expect(policy.decide('impl', 'modify', '.env')).to.deep.equal({ decision: 'deny', rule: 'mutations.deny[0]', reason: 'secrets' });
      expect(policy.decide('impl', 'create', 'config/.env.production').rule).to.equal('mutations.deny[0]');
      expect(policy.decide('impl', 'move', '.git/HEAD')).to.include({ decision: 'deny', rule: 'mutations.deny[1]' });
    });

    it('applies global approve rules under a roles section', () => {
      expect(policy.decide('impl', 'modify', 'package.json')).to.include({ decision: 'approve', rule: 'mutations.approve[0]' });
      expect(policy.decide('impl', 'delete', 'package.json').decision).to.equal('allow');
    });

    it('checks global denies before the role-without-rules denial', () => {
      const onlyImpl = compile({ mutations: { deny: [{ pattern: '**/*.key' }] }, roles: { impl: { allow: [{ pattern: '**' }] } } });
      expect(onlyImpl.decide('control', 'create', 'a/b.key').rule).to.equal('mutations.deny[0]');
    });

    it('denies before approving, and a role deny beats a global approve', () => {
      const p = compile({
        mutations: { approve: [{ pattern: 'package.json' }] },
        roles: { impl: { allow: [{ pattern: '**' }], deny: [{ pattern: 'package.json', actions: ['delete'] }] } },
      });
      expect(p.decide('impl', 'delete', 'package.json').rule).to.equal('roles.impl.deny[0]');
      expect(p.decide('impl', 'modify', 'package.json').decision).to.equal('approve');
    });

    it('applies role approve rules', () => {
      const p = compile({ roles: { impl: { allow: [{ pattern: '**' }], approve: [{ pattern: 'migrations/**' }] } } });
      expect(p.decide('impl', 'create', 'migrations/001.sql')).to.include({ decision: 'approve', rule: 'roles.impl.approve[0]' });
    });
  });

  describe('rules, actions and patterns', () => {
    it('a rule without actions covers create, modify, delete and move', () => {
      const p = compile({ mutations: { deny: [{ pattern: 'locked/**' }], allow: [{ pattern: '**' }] } });
      for (const action of ['create', 'modify', 'delete', 'move'] as const) {
        expect(p.decide('impl', action, 'locked/a.txt').decision, action).to.equal('deny');
        expect(p.decide('impl', action, 'open/a.txt').decision, action).to.equal('allow');
      }
    });

    it('a rule with actions covers only those', () => {
      const p = compile({ mutations: { allow: [{ pattern: 'src/**', actions: ['modify'] }] } });
      expect(p.decide('impl', 'modify', 'src/a.ts').decision).to.equal('allow');
      expect(p.decide('impl', 'move', 'src/a.ts').decision).to.equal('deny');
    });

    it('matches dotfiles with globs', () => {
      const p = compile({ mutations: { allow: [{ pattern: 'src/**' }] } });
      expect(p.decide('impl', 'create', 'src/.hidden/x.ts').decision).to.equal('allow');
    });

    it('a pattern without "/" only matches at the root', () => {
      const p = compile({ mutations: { deny: [{ pattern: '.env' }], allow: [{ pattern: '**' }] } });
      expect(p.decide('impl', 'modify', '.env').decision).to.equal('deny');
      expect(p.decide('impl', 'modify', 'sub/.env').decision).to.equal('allow');
    });

    it('the first matching rule of a kind decides', () => {
      const p = compile({ mutations: { deny: [{ pattern: 'a/**', reason: 'first' }, { pattern: 'a/b/**', reason: 'second' }] } });
      expect(p.decide('impl', 'modify', 'a/b/c').reason).to.equal('first');
    });

    it('gives a default reason naming the pattern when the rule has none', () => {
      const p = compile({ mutations: { deny: [{ pattern: '**/*.pem' }], approve: [{ pattern: 'x' }] }, roles: { impl: { allow: [{ pattern: 'src/**' }] } } });
      expect(p.decide('impl', 'modify', 'a/b.pem').reason).to.equal('paths matching "**/*.pem" may not be modified');
      expect(p.decide('impl', 'create', 'src/a').reason).to.equal('paths matching "src/**" may be created by impl');
      expect(p.decide('impl', 'delete', 'x').reason).to.equal('deleting paths matching "x" needs a human\'s approval');
    });

    it('returns shared frozen decisions', () => {
      const p = compile({ mutations: { allow: [{ pattern: 'src/**' }] } });
      const a = p.decide('impl', 'modify', 'src/a.ts');
      expect(a).to.equal(p.decide('impl', 'modify', 'src/b.ts'));
      expect(Object.isFrozen(a)).to.equal(true);
    });
  });

  describe('reads', () => {
    const policy = compile({
      mutations: { deny: [{ pattern: 'docs/**' }] },
      reads: { deny: [{ pattern: '**/.env*', reason: 'secrets stay unread' }, { pattern: '**/*.key' }] },
      roles: { impl: { allow: [{ pattern: 'src/**' }] } },
    });

    it('denies reads that reads.deny matches', () => {
      expect(policy.decide('impl', 'read', 'a/.env.local')).to.deep.equal({ decision: 'deny', rule: 'reads.deny[0]', reason: 'secrets stay unread' });
      expect(policy.decide('control', 'read', 'id.key')).to.include({ decision: 'deny', rule: 'reads.deny[1]' });
    });

    it('allows every other read, for every role, whatever the mutation rules say', () => {
      expect(policy.decide('impl', 'read', 'docs/plan.md')).to.include({ decision: 'allow', rule: 'reads.default' });
      expect(policy.decide('control', 'read', 'src/a.ts').decision).to.equal('allow');
    });
  });

  describe('hash, limits, tools, rules', () => {
    const source: GovernanceFile = {
      mutations: { deny: [{ pattern: '**/.env*' }] },
      roles: { impl: { allow: [{ pattern: 'src/**', actions: ['create'] }], tools: ['read_file', 'write_file'] } },
      limits: { max_parallel: 8 },
    };

    it('hashes the normalized source: key order does not matter, content does', () => {
      const a = compile(source);
      const b = compile({ limits: { max_parallel: 8 }, roles: source.roles, mutations: source.mutations });
      const c = compile({ ...source, limits: { max_parallel: 9 } });
      expect(a.hash).to.match(/^[0-9a-f]{64}$/);
      expect(a.hash).to.equal(b.hash);
      expect(a.hash).to.not.equal(c.hash);
    });

    it('fills limits with defaults', () => {
      expect(compile(source).limits).to.deep.equal({ max_depth: 2, max_parallel: 8, command_timeout_s: 120 });
      expect(compile({}).limits).to.deep.equal({ max_depth: 2, max_parallel: 4, command_timeout_s: 120 });
    });

    it('returns the role tools, or undefined for the defaults', () => {
      const p = compile(source);
      expect(p.toolsFor('impl')).to.deep.equal(['read_file', 'write_file']);
      expect(p.toolsFor('control')).to.equal(undefined);
    });

    it('lists the rules that apply to a role, with their ids', () => {
      const p = compile(source);
      expect(p.rulesFor('impl')).to.deep.equal({
        reads: { deny: [], default: 'allow' },
        mutations: {
          deny: [{ rule: 'mutations.deny[0]', pattern: '**/.env*', actions: ['create', 'modify', 'delete', 'move'] }],
          approve: [],
          allow: [{ rule: 'roles.impl.allow[0]', pattern: 'src/**', actions: ['create'] }],
          allow_from: 'roles.impl',
          default: 'deny',
        },
        commands: { deny: [], approve: [], allow: [], allow_from: 'commands', default: 'deny' },
      });
      const control = p.rulesFor('control') as { mutations: { allow: unknown[]; allow_from: string } };
      expect(control.mutations.allow).to.deep.equal([]);
      expect(control.mutations.allow_from).to.equal('none');
    });
  });
});
