// lintPolicy(): warnings for rules that cannot take effect or only cover the root.
import { expect } from 'chai';
import { compilePolicy } from '../../policy/decide.js';
import { lintPolicy } from '../../policy/lint.js';
import type { GovernanceFile } from '../../policy/types.js';

const lint = (source: GovernanceFile) => lintPolicy(compilePolicy(source, 'test.yaml'));

describe('policy/lint', () => {
  it('has nothing to say about a sound policy', () => {
    expect(
      lint({
        mutations: { deny: [{ pattern: '**/.env*' }, { pattern: '.git/**' }, { pattern: 'choragen.governance.yaml' }] },
        reads: { deny: [{ pattern: '**/*.key' }] },
        roles: { impl: { allow: [{ pattern: 'src/**' }] }, control: { allow: [{ pattern: 'docs/**' }] } },
      }),
    ).to.deep.equal([]);
  });

  it('warns about deny patterns without "/" that only match at the root', () => {
    const warnings = lint({ mutations: { deny: [{ pattern: '.env' }, { pattern: '*.key' }, { pattern: 'Makefile' }] }, reads: { deny: [{ pattern: '.env*' }] } });
    expect(warnings.map((w) => w.rule)).to.deep.equal(['mutations.deny[0]', 'mutations.deny[1]', 'reads.deny[0]']);
    expect(warnings[0].message).to.equal(
      'pattern ".env" has no "/", so it only matches at the workspace root; write "**/.env" to match in every directory',
    );
  });

  it('does not warn about root-only allow rules', () => {
    expect(lint({ mutations: { allow: [{ pattern: '*.md' }] } })).to.deep.equal([]);
  });

  it('warns about allow and approve actions covered by a deny with the same pattern', () => {
    const warnings = lint({
      roles: {
        impl: {
          allow: [{ pattern: 'docs/tasks/**' }, { pattern: 'src/**', actions: ['modify'] }],
          deny: [{ pattern: 'docs/tasks/**', actions: ['move', 'delete'] }, { pattern: 'src/**', actions: ['modify'] }],
        },
        control: { allow: [{ pattern: 'docs/**' }] },
      },
    });
    expect(warnings).to.deep.equal([
      { rule: 'roles.impl.allow[0]', message: 'never applies to delete, move: denied by roles.impl.deny[0]' },
      { rule: 'roles.impl.allow[1]', message: 'can never apply: every action it covers (modify) is denied by roles.impl.deny[1]' },
    ]);
  });

  it('sees global denies and broader denies shadowing allow and approve rules', () => {
    const warnings = lint({
      mutations: {
        deny: [{ pattern: 'vendor/**' }, { pattern: '**/*.pem' }],
        approve: [{ pattern: 'vendor/lib/patch.diff', reason: 'x' }],
      },
      roles: { impl: { allow: [{ pattern: 'vendor/lib/**' }, { pattern: 'certs/dev.pem' }] }, control: { allow: [{ pattern: 'docs/**' }] } },
    });
    expect(warnings.map((w) => w.rule)).to.deep.equal(['mutations.approve[0]', 'roles.impl.allow[0]', 'roles.impl.allow[1]']);
    expect(warnings.every((w) => w.message.startsWith('can never apply'))).to.equal(true);
  });

  it('does not claim shadowing when the deny covers only part of the allow', () => {
    expect(lint({ mutations: { deny: [{ pattern: 'src/generated/**' }], allow: [{ pattern: 'src/**' }] } })).to.deep.equal([]);
  });

  it('warns about patterns that can never match a canonical path', () => {
    const warnings = lint({ mutations: { allow: [{ pattern: '/etc/**' }, { pattern: 'src/../x' }, { pattern: 'docs/' }, { pattern: './src/**' }] } });
    expect(warnings.map((w) => w.rule)).to.deep.equal(['mutations.allow[0]', 'mutations.allow[1]', 'mutations.allow[2]']);
    expect(warnings[2].message).to.contain('write "docs/**"');
  });

  it('warns that mutations.allow is ignored under a roles section, and about roles without rules', () => {
    const warnings = lint({ mutations: { allow: [{ pattern: '**' }] }, roles: { impl: { allow: [{ pattern: 'src/**' }] } } });
    expect(warnings).to.deep.equal([
      { rule: 'mutations.allow[0]', message: "never applies: when a roles section exists, each role's own allow rules replace mutations.allow" },
      { rule: 'roles.control', message: 'no rules for control: with a roles section, every mutation by control is denied' },
    ]);
  });

  describe('roles', () => {
    // What the runtime tells lint about tools: listed tools, minus spawn_session without spawns and run_command without commands.
    const tools = (policy: ReturnType<typeof compilePolicy>) => ({
      offered: (role: string) => (policy.toolsFor(role) ?? ['read_file', 'complete_task'])
        .filter((t) => t !== 'spawn_session' || policy.spawnsFor(role).length > 0)
        .filter((t) => t !== 'run_command' || policy.allowsCommands(role)),
      mutates: (tool: string) => tool === 'write_file',
    });
    const lintRoles = (source: GovernanceFile) => {
      const policy = compilePolicy(source, 'test.yaml');
      return lintPolicy(policy, tools(policy)).filter((w) => w.rule.startsWith('roles.'));
    };
    const ruled = { impl: { allow: [{ pattern: 'src/**' }] }, control: { allow: [{ pattern: 'docs/**' }] } };

    it('warns about a defined role no role spawns: it runs only when started directly', () => {
      expect(lintRoles({ roles: { ...ruled, auditor: {} } })).to.deep.equal([
        { rule: 'roles.auditor', message: 'no role spawns auditor: it runs only when started directly (agent:start --role auditor)' },
      ]);
      expect(lintRoles({ roles: { ...ruled, control: { ...ruled.control, spawns: ['impl', 'auditor'] }, auditor: {} } })).to.deep.equal([]);
    });

    it('warns about spawns that limits.max_depth 0 rules out', () => {
      const warnings = lintRoles({ roles: { ...ruled, control: { ...ruled.control, spawns: ['impl'] } }, limits: { max_depth: 0 } });
      expect(warnings).to.deep.equal([{ rule: 'roles.control.spawns', message: 'never applies: limits.max_depth is 0, so no session may start another' }]);
    });

    it('warns about a listed tool the role is not offered (a spawn tool without spawns)', () => {
      const warnings = lintRoles({ roles: { ...ruled, control: { ...ruled.control, spawns: ['impl', 'auditor'] }, auditor: { tools: ['read_file', 'spawn_session'] } } });
      expect(warnings).to.deep.equal([{ rule: 'roles.auditor.tools', message: 'spawn_session is not offered: the spawn tools follow roles.auditor.spawns (none)' }]);
    });

    it('says why a listed tool is not offered: run_command follows the commands rules, not spawns', () => {
      const control = { ...ruled.control, spawns: ['impl', 'tester'] };
      const warnings = lintRoles({ roles: { ...ruled, control, tester: { tools: ['read_file', 'run_command', 'spawn_session'] } } });
      expect(warnings).to.deep.equal([
        { rule: 'roles.tester.tools', message: 'run_command is not offered: tester may run no command (no allow or approve rule in commands)' },
        { rule: 'roles.tester.tools', message: 'spawn_session is not offered: the spawn tools follow roles.tester.spawns (none)' },
      ]);
      const own = lintRoles({ roles: { ...ruled, control, tester: { tools: ['read_file', 'run_command'], commands: { deny: [{ argv: ['rm'] }] } } } });
      expect(own.map((w) => w.message)).to.deep.equal(['run_command is not offered: tester may run no command (no allow or approve rule in roles.tester.commands)']);
      const allowed = lintRoles({ roles: { ...ruled, control, tester: { tools: ['read_file', 'run_command'], commands: { allow: [{ argv: ['npm', 'test'] }] } } } });
      expect(allowed).to.deep.equal([]);
    });

    it('warns about a provider without a model', () => {
      const warnings = lintRoles({ roles: { ...ruled, control: { ...ruled.control, spawns: ['impl', 'auditor'] }, auditor: { provider: 'openai' } } });
      expect(warnings.map((w) => w.rule)).to.deep.equal(['roles.auditor.provider']);
      expect(warnings[0].message).to.match(/^openai without a model: .* name one with roles\.auditor\.model$/);
    });

    it('warns about a role without rules only when it is offered a tool that changes files', () => {
      const spawned = { control: { ...ruled.control, spawns: ['impl', 'reader', 'writer'] } };
      const warnings = lintRoles({ roles: { ...ruled, ...spawned, reader: { tools: ['read_file'] }, writer: { tools: ['read_file', 'write_file'] } } });
      expect(warnings).to.deep.equal([{ rule: 'roles.writer', message: 'no rules for writer: with a roles section, every mutation by writer is denied' }]);
    });
  });
});
