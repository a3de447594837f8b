// The broker's own protection of .choragen/ and the governance file in force:
// it holds whatever the governance file says.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROTECTED_RULE, policyRelPath, protectedDecision } from '../../policy/protected-paths.js';

describe('protected paths', () => {
  it('.choragen/ is refused for every action, reads included', () => {
    for (const action of ['read', 'create', 'modify', 'delete', 'move'] as const) {
      for (const rel of ['.choragen', '.choragen/audit/x.jsonl', '.choragen/sessions/s.json', '.choragen/metrics.duckdb']) {
        expect(protectedDecision(rel, action, 'choragen.governance.yaml'), `${action} ${rel}`).to.include({ decision: 'deny', rule: PROTECTED_RULE });
      }
    }
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
