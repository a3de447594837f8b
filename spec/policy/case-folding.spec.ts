// Case-insensitive workspaces (issue 15, class 9): decisions are made on the
// folded path against folded patterns, so `.GIT/hooks/x` meets the `.git/**`
// deny there. The end-to-end spec mounts a case-folding tmpfs (Linux >= 6.13
// with CONFIG_UNICODE, as root); where that cannot be mounted it is skipped
// with the reason, and the folding itself is proven on a simulated workspace.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { foldPath, workspaceFoldsCase } from '../../policy/case-folding.js';
import { DEFAULT_POLICY_YAML } from '../../policy/default-policy.js';
import { parsePolicy } from '../../policy/load.js';
import { type FakeServer, startFakeAnthropic } from '../support/fake-anthropic.js';
import { jsonEvents, runCli } from '../support/cli.js';
import { resultsOf } from '../support/run-records.js';

describe('case folding (issue 15, class 9)', function () {
  this.timeout(60_000);

  it('folds case, Unicode normalization, HFS-ignorable code points and trailing dots and spaces', () => {
    expect(foldPath('.GIT/Hooks/Pre-Commit')).to.equal('.git/hooks/pre-commit');
    expect(foldPath('.g\u200cit/config')).to.equal('.git/config');
    expect(foldPath('.git./config')).to.equal('.git/config');
    expect(foldPath('.git . /config')).to.equal('.git/config');
    expect(foldPath('Caf\u00e9.md')).to.equal(foldPath('cafe\u0301.MD'));
    expect(foldPath('\u212Aey.pem')).to.equal('key.pem'); // the Kelvin sign folds to k
    expect(foldPath('.hu\u017Fky/x')).to.equal('.husky/x'); // the long s folds to s
    expect(foldPath('src/a.ts')).to.equal('src/a.ts');
  });

  it('a folded policy denies every spelling its rules name, and allows what they allow in any case', () => {
    const policy = parsePolicy(DEFAULT_POLICY_YAML, 'choragen.governance.yaml');
    const folded = policy.folded();
    expect(folded.folded()).to.equal(folded);
    for (const rel of ['src/.GIT/hooks/x', 'src/.Git/config', 'src/.ENV', 'src/.Env.local', 'src/certs/X.PEM', 'src/.NPMRC', 'src/.Husky/pre-commit']) {
      expect(policy.decide('impl', 'create', rel).decision, `case-sensitive: ${rel}`).to.not.equal('deny');
      expect(folded.decide('impl', 'create', rel).decision, `folded: ${rel}`).to.equal('deny');
    }
    expect(folded.decide('impl', 'read', 'SRC/.GIT/config').decision).to.equal('deny');
    expect(folded.decide('impl', 'create', 'SRC/Index.ts')).to.include({ decision: 'allow', rule: 'roles.impl.allow[0]' });
    expect(folded.decide('impl', 'modify', 'Package.JSON').decision).to.equal('approve');
  });

  it('probes a case-sensitive workspace as such', () => {
    const ws = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-case-')));
    try {
      mkdirSync(path.join(ws, '.choragen'));
      expect(workspaceFoldsCase(ws)).to.equal(false);
      expect(readdirSync(path.join(ws, '.choragen'))).to.deep.equal([]); // the probe file is gone
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  describe('on a case-folding tmpfs', () => {
    let mnt: string | undefined;
    let server: FakeServer | undefined;

    before(function () {
      const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-casefold-')));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'casefold', 'tmpfs', dir], { stdio: 'pipe' });
        mnt = dir;
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        const why = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().split('\n')[0];
        // eslint-disable-next-line no-console
        console.log(`      skipped: cannot mount a case-folding tmpfs here (${why}); needs Linux >= 6.13 with CONFIG_UNICODE, as root`);
        this.skip();
      }
    });

    after(async () => {
      await server?.close();
      if (mnt) {
        execFileSync('umount', [mnt]);
        rmSync(mnt, { recursive: true, force: true });
      }
    });

    it('is detected, and .GIT/hooks/x meets the .git/** deny through the real CLI', async () => {
      const ws = mnt!;
      writeFileSync(path.join(ws, 'choragen.governance.yaml'), DEFAULT_POLICY_YAML);
      mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
      mkdirSync(path.join(ws, '.choragen'));
      expect(workspaceFoldsCase(ws)).to.equal(true);
      const attacks = [
        { type: 'tool_use', id: 'toolu_cf1', name: 'write_file', input: { path: '.GIT/hooks/pre-commit', content: 'echo pwned\n' } },
        { type: 'tool_use', id: 'toolu_cf2', name: 'write_file', input: { path: 'SRC/.Git/config', content: '[core]\n' } },
        { type: 'tool_use', id: 'toolu_cf3', name: 'write_file', input: { path: '.ENV', content: 'X=1\n' } },
        { type: 'tool_use', id: 'toolu_cf4', name: 'read_file', input: { path: '.Git/config' } },
      ];
      server = await startFakeAnthropic({ sessions: [{ role: 'impl', turns: [
        { content: attacks },
        { content: [{ type: 'text', text: 'done' }] },
      ] }] } as any);
      const r = await runCli(['agent:start', '--role', 'impl', '-m', 'casefold', '--json', '--no-record-commits', '-w', ws],
        { env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url } });
      expect(r.code, r.stderr).to.equal(0);
      const results = resultsOf(server);
      for (const a of attacks) expect(results.get(a.id).is_error, `${a.input.path}: ${results.get(a.id).content}`).to.equal(true);
      const calls = jsonEvents(r.stdout).filter((e) => e.event === 'tool_call');
      expect(calls.map((c) => c.decision)).to.deep.equal(['deny', 'deny', 'deny', 'deny']);
      expect(existsSync(path.join(ws, '.git', 'hooks', 'pre-commit'))).to.equal(false);
      expect(existsSync(path.join(ws, '.env'))).to.equal(false);
    });
  });
});
