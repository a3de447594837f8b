// The broker's own protection of .choragen/, of git internals at any depth
// and of the governance file in force: it holds whatever the governance file says.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../policy/load.js';
import { PROTECTED_RULE, decideGuarded, policyRelPath, protectedDecision } from '../../policy/protected-paths.js';

describe('protected paths', () => {
  it('.choragen/ is refused for every action, reads included', () => {
    for (const action of ['read', 'create', 'modify', 'delete', 'move'] as const) {
      for (const rel of ['.choragen', '.choragen/audit/x.jsonl', '.choragen/sessions/s.json', '.choragen/metrics.duckdb']) {
        expect(protectedDecision(rel, action, 'choragen.governance.yaml'), `${action} ${rel}`).to.include({ decision: 'deny', rule: PROTECTED_RULE });
      }
    }
  });

  it('a .git at any depth is refused for every action, reads included; look-alikes are left to the policy', () => {
    for (const action of ['read', 'create', 'modify', 'delete', 'move'] as const) {
      for (const rel of ['.git', '.git/config', 'src/.git', 'src/.git/hooks/pre-commit', 'a/b/.git/HEAD', 'vendor/x/.git']) {
        expect(protectedDecision(rel, action, null), `${action} ${rel}`).to.include({ decision: 'deny', rule: PROTECTED_RULE });
      }
    }
    for (const rel of ['.gitignore', 'src/.github/x', '.git2/x', 'src/x.git', 'src/.gitkeep']) {
      expect(protectedDecision(rel, 'modify', null), rel).to.equal(null);
    }
  });

  it('holds under a policy that allows everything; on a case-folding workspace, for every spelling of .git', () => {
    const open = parsePolicy('roles:\n  impl:\n    allow: [{ pattern: "**" }]\n', 'p.yaml');
    expect(decideGuarded(open, null, 'impl', 'create', 'src/.git/hooks/pre-commit')).to.include({ decision: 'deny', rule: PROTECTED_RULE });
    // A case-sensitive filesystem: `.GIT` is just another folder, git never reads it.
    expect(decideGuarded(open, null, 'impl', 'create', 'src/.GIT/hooks/pre-commit')).to.include({ decision: 'allow' });
    for (const rel of ['.GIT/hooks/x', 'src/.Git/config', '.git./config', '.git /config', '.g\u200cit/config', '.CHORAGEN/audit/x.jsonl']) {
      expect(decideGuarded(open, null, 'impl', 'create', rel, true), rel).to.include({ decision: 'deny', rule: PROTECTED_RULE });
    }
    expect(decideGuarded(open, 'choragen.governance.yaml', 'impl', 'modify', 'Choragen.Governance.YAML', true)).to.include({ rule: PROTECTED_RULE });
    expect(decideGuarded(open, null, 'impl', 'create', 'SRC/a.ts', true)).to.include({ decision: 'allow' });
  });

  it('the governance file in force may be read, never changed; look-alikes are left to the policy', () => {
    expect(protectedDecision('choragen.governance.yaml', 'read', 'choragen.governance.yaml')).to.equal(null);
    for (const action of ['create', 'modify', 'delete', 'move'] as const) {
      expect(protectedDecision('choragen.governance.yaml', action, 'choragen.governance.yaml')).to.include({ rule: PROTECTED_RULE });
      expect(protectedDecision('config/policy.yaml', action, 'config/policy.yaml')).to.include({ rule: PROTECTED_RULE });
    }
    for (const rel of ['.choragenx/a', 'src/.choragen/a', 'docs/choragen.governance.yaml', 'choragen.governance.yaml.bak']) {
      expect(protectedDecision(rel, 'modify', 'choragen.governance.yaml'), rel).to.equal(null);
    }
    expect(protectedDecision('choragen.governance.yaml', 'modify', null)).to.equal(null);
  });

  it('finds the governance file relative to the workspace, through symlinks; outside the workspace it is none', () => {
    const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-protected-')));
    try {
      const ws = path.join(base, 'ws');
      mkdirSync(path.join(ws, 'policies'), { recursive: true });
      writeFileSync(path.join(ws, 'policies', 'real.yaml'), 'roles: {}\n');
      symlinkSync('policies/real.yaml', path.join(ws, 'choragen.governance.yaml'));
      writeFileSync(path.join(base, 'outside.yaml'), 'roles: {}\n');
      expect(policyRelPath(ws, path.join(ws, 'choragen.governance.yaml'))).to.equal('policies/real.yaml');
      expect(policyRelPath(ws, path.join(base, 'outside.yaml'))).to.equal(null);
      expect(policyRelPath(ws, path.join(ws, 'gone.yaml'))).to.equal('gone.yaml');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
