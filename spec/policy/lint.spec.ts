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
});
