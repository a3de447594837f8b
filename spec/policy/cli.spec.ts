// policy:check and policy:lint end to end: the real CLI as a child process.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_POLICY_YAML } from '../../policy/default-policy.js';
import { CLI as MAIN } from '../support/cli.js';

/** Run the CLI; resolves whatever the exit code (specs start several at once to keep the suite quick). */
function choragen(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('policy CLI', function () {
  this.timeout(20_000);
  let ws: string;
  let outside: string;

  before(() => {
    ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-cli-')));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-cli-out-')));
    fs.writeFileSync(path.join(ws, 'choragen.governance.yaml'), DEFAULT_POLICY_YAML);
    fs.mkdirSync(path.join(ws, 'src'));
    fs.symlinkSync(outside, path.join(ws, 'src', 'escape'));
  });

  after(() => {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  describe('policy:check', () => {
    it('prints the deciding rule as JSON', async () => {
      const r = await choragen(ws, 'policy:check', '--role', 'impl', '--action', 'move', '--json', './docs/tasks/todo/C-1/001-a.md');
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(
        '{"decision":"deny","rule":"roles.impl.deny[0]","reason":"only control moves tasks between these states","path":"docs/tasks/todo/C-1/001-a.md"}\n',
      );
    });

    it('reports allow, approve and read decisions, exit 0 each time', async () => {
      const [allow, approve, read] = await Promise.all([
        choragen(ws, 'policy:check', '--role', 'impl', '--action', 'create', 'src/new.ts', '--json'),
        choragen(ws, 'policy:check', '--role', 'control', '--action', 'modify', 'package.json', '--json', '--workspace', ws),
        choragen(ws, 'policy:check', '--role', 'impl', '--action', 'read', 'config/.env.local'),
      ]);
      expect(JSON.parse(allow.stdout)).to.deep.equal({
        decision: 'allow',
        rule: 'roles.impl.allow[0]',
        reason: 'paths matching "src/**" may be created by impl',
        path: 'src/new.ts',
      });
      expect(JSON.parse(approve.stdout)).to.include({ decision: 'approve', rule: 'mutations.approve[0]' });
      expect([allow.code, approve.code, read.code]).to.deep.equal([0, 0, 0]);
      expect(read.stdout).to.contain('deny: impl read config/.env.local').and.contain('rule:   reads.deny[0]');
    });

    it('denies a path outside the workspace by rule "path", exit 0', async () => {
      const targets = ['../x', '/etc/passwd', 'src/escape/file'];
      const runs = await Promise.all(targets.map((t) => choragen(ws, 'policy:check', '--role', 'impl', '--action', 'create', t, '--json')));
      runs.forEach((r, i) => {
        expect(r.code, targets[i]).to.equal(0);
        const out = JSON.parse(r.stdout);
        expect(out).to.include({ decision: 'deny', rule: 'path', path: targets[i] });
        expect(out.reason).to.not.contain(outside);
      });
    });

    it('uses --policy and --workspace from another directory', async () => {
      const strict = path.join(ws, 'strict.yaml');
      fs.writeFileSync(strict, 'reads:\n  deny:\n    - pattern: "src/**"\n');
      const r = await choragen(os.tmpdir(), 'policy:check', '--role', 'impl', '--action', 'read', 'src/a.ts', '--policy', strict, '--workspace', ws, '--json');
      expect(JSON.parse(r.stdout)).to.include({ decision: 'deny', rule: 'reads.deny[0]' });
    });

    it('exits 2 on an unknown role or action, or a missing policy', async () => {
      const [role, action, missing] = await Promise.all([
        choragen(ws, 'policy:check', '--role', 'admin', '--action', 'modify', 'x'),
        choragen(ws, 'policy:check', '--role', 'impl', '--action', 'rename', 'x'),
        choragen(outside, 'policy:check', '--role', 'impl', '--action', 'modify', 'x'),
      ]);
      expect(role.code).to.equal(2);
      expect(role.stderr).to.equal('choragen: unknown role "admin" (defined: control, impl)\n');
      expect(action.code).to.equal(2);
      expect(action.stderr).to.contain('unknown action "rename"');
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.contain('choragen init');
    });
  });

  describe('policy:check for a command', () => {
    it('answers as run_command would: the built-in guard first, then the commands rules', async () => {
      const [publish, shell, test, argv] = await Promise.all([
        choragen(ws, 'policy:check', '--role', 'impl', '--command', 'npm publish --tag next', '--json'),
        choragen(ws, 'policy:check', '--role', 'impl', '--json', '--', 'sh', '-c', 'cat .env'),
        choragen(ws, 'policy:check', '--role', 'impl', '--command', "node --test 'my test.js'"),
        choragen(ws, 'policy:check', '--role', 'impl', '--', 'node', '-e', 'x'),
      ]);
      expect(JSON.parse(publish.stdout)).to.deep.equal({
        decision: 'deny', rule: 'commands.deny[0]', reason: "publishing is a human's decision", command: 'npm publish --tag next', argv: ['npm', 'publish', '--tag', 'next'],
      });
      expect(JSON.parse(shell.stdout)).to.include({ decision: 'deny', rule: 'builtin.shell', command: "sh -c 'cat .env'" });
      expect(test.stdout).to.equal("deny: impl runs node --test 'my test.js'\n  rule:   default\n  reason: no commands allow rule for impl matches node --test 'my test.js'\n");
      expect(argv.stdout).to.match(/^deny: impl runs node -e x\n  rule:   builtin\.inline-code\n/);
      expect([publish.code, shell.code, test.code, argv.code]).to.deep.equal([0, 0, 0, 0]);
    });

    it('exits 2 on a command line it cannot read, or on nothing to check', async () => {
      const [quote, nothing, both] = await Promise.all([
        choragen(ws, 'policy:check', '--role', 'impl', '--command', "npm 'test"),
        choragen(ws, 'policy:check', '--role', 'impl'),
        choragen(ws, 'policy:check', '--role', 'impl', '--command', 'npm test', '--', 'npm', 'test'),
      ]);
      expect(quote).to.include({ code: 2, stderr: 'choragen: --command: unterminated quote in "npm \'test"\n' });
      expect(nothing.code).to.equal(2);
      expect(nothing.stderr).to.match(/say what to check: --action ACTION PATH, --command "npm test", or -- ARGV/);
      expect(both.code).to.equal(2);
    });

    it('policy:lint warns about a command rule the guard always refuses', async () => {
      fs.writeFileSync(path.join(ws, 'shell.yaml'), 'roles:\n  control:\n    allow: [{ pattern: "docs/**" }]\n  impl:\n    allow: [{ pattern: "src/**" }]\n    commands:\n      allow:\n        - argv: ["bash", "-c"]\n');
      const r = await choragen(ws, 'policy:lint', 'shell.yaml');
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^warning: roles\.impl\.commands\.allow\[0\]: can never apply: run_command always refuses it \(builtin\.shell: bash is a shell/);
    });
  });

  describe('init', () => {
    it('allows impl the test, lint and type-check commands of the project, and says which', async () => {
      const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-init-')));
      try {
        fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'mocha', lint: 'eslint .', start: 'node .' }, devDependencies: { typescript: '5' } }));
        const r = await choragen(dir, 'init');
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.include('impl may run: npm test, npm run lint, npx tsc --noEmit\n');
        const [check, lint] = await Promise.all([
          choragen(dir, 'policy:check', '--role', 'impl', '--command', 'npm run start', '--json'),
          choragen(dir, 'policy:lint'),
        ]);
        expect(JSON.parse(check.stdout)).to.include({ decision: 'deny', rule: 'default' });
        expect(lint.stdout).to.equal('ok: no warnings\n');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('policy:lint', () => {
    it('prints "ok: no warnings" for the default policy', async () => {
      const r = await choragen(ws, 'policy:lint');
      expect(r).to.include({ code: 0, stdout: 'ok: no warnings\n' });
    });

    it('prints warnings with exit 0, and JSON with --json', async () => {
      const file = path.join(ws, 'weak.yaml');
      fs.writeFileSync(file, 'mutations:\n  deny:\n    - pattern: ".env"\n  allow:\n    - pattern: "**"\n');
      const [text, json] = await Promise.all([choragen(ws, 'policy:lint', 'weak.yaml'), choragen(ws, 'policy:lint', file, '--json')]);
      expect(text.code).to.equal(0);
      expect(text.stdout).to.match(/^warning: mutations\.deny\[0\]: pattern "\.env" has no "\/"/);
      const out = JSON.parse(json.stdout);
      expect(out.ok).to.equal(true);
      expect(out.hash).to.match(/^[0-9a-f]{64}$/);
      expect(out.warnings).to.have.length(1);
      expect(out.warnings[0].rule).to.equal('mutations.deny[0]');
    });

    it('lints the init file\'s reviewer example clean once it is uncommented and its prompt file exists; warns about a role that changes files without rules', async () => {
      const team = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-cli-team-')));
      try {
        const uncommented = DEFAULT_POLICY_YAML
          .replace('    # spawns: [impl, reviewer]', '    spawns: [impl, reviewer]')
          .replace(/^  # (reviewer:|  [a-z]+:)/gm, '  $1');
        fs.writeFileSync(path.join(team, 'choragen.governance.yaml'), uncommented);
        const missing = await choragen(team, 'policy:lint');
        expect(missing.code).to.equal(2);
        expect(missing.stderr).to.match(/^choragen: choragen\.governance\.yaml:\d+: roles\.reviewer\.prompt: prompt file docs\/roles\/reviewer\.md does not exist\n$/);
        fs.mkdirSync(path.join(team, 'docs', 'roles'), { recursive: true });
        fs.writeFileSync(path.join(team, 'docs', 'roles', 'reviewer.md'), 'You review.\n');
        expect(await choragen(team, 'policy:lint')).to.include({ code: 0, stdout: 'ok: no warnings\n' });
        const check = await choragen(team, 'policy:check', '--role', 'reviewer', '--action', 'modify', 'src/a.ts', '--json');
        expect(JSON.parse(check.stdout)).to.include({ decision: 'deny', rule: 'roles.reviewer' });
        fs.writeFileSync(path.join(team, 'choragen.governance.yaml'), uncommented.replace('tools: [read_file, list_files, search_files, git_diff, complete_task]', 'tools: [read_file, write_file]'));
        const writer = await choragen(team, 'policy:lint');
        expect(writer.stdout).to.contain('warning: roles.reviewer: no rules for reviewer: with a roles section, every mutation by reviewer is denied');
      } finally {
        fs.rmSync(team, { recursive: true, force: true });
      }
    });

    it('exits 2 with file:line:key on an invalid file', async () => {
      fs.writeFileSync(path.join(ws, 'bad.yaml'), 'roles:\n  impl:\n    allow:\n      - pattern: "src/**"\n        actions: [create, rename]\n');
      const [r, json] = await Promise.all([choragen(ws, 'policy:lint', 'bad.yaml'), choragen(ws, 'policy:lint', 'bad.yaml', '--json')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(
        'choragen: bad.yaml:5: roles.impl.allow[0].actions[1]: unknown action "rename" (expected create, modify, delete, move)\n',
      );
      expect(json.code).to.equal(2);
      expect(JSON.parse(json.stdout)).to.include({ ok: false, line: 5, key: 'roles.impl.allow[0].actions[1]' });
    });
  });
});
