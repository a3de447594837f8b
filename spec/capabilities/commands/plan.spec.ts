// The sandbox plan derived from the policy and the disk: what run_command's
// sandbox makes writable, read-only and hidden (real files, no bubblewrap).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { planCommand, MAX_PROTECTED_PATHS, type Decide } from '../../../capabilities/commands/plan.js';
import { defaultPathDirs } from '../../../capabilities/sandbox/plan.js';
import { writableBases } from '../../../policy/command-areas.js';
import { workspaceRoot } from '../../../policy/canonical.js';
import { parsePolicy } from '../../../policy/load.js';
import { decideGuarded, policyRelPath } from '../../../policy/protected-paths.js';
import { tempWorkspace, removeWorkspace } from '../sandbox/fixture.js';
import { mountTmpfs } from '../../support/tmpfs.js';

const BASE_POLICY = `
mutations:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: ".git/**" }
    - { pattern: "**/*.key" }
  approve:
    - { pattern: "package.json", actions: [modify] }
reads:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: "**/*.key" }
    - { pattern: ".git/**" }
roles:
  impl:
    allow:
      - { pattern: "src/**" }
      - { pattern: "test/**" }
      - { pattern: "missing/**" }
  control:
    allow: [{ pattern: "docs/**" }]
`;

async function planFor(ws: string, policyText: string, role: 'impl' | 'control' = 'impl') {
  fs.writeFileSync(path.join(ws, 'choragen.governance.yaml'), policyText);
  const policy = parsePolicy(policyText, path.join(ws, 'choragen.governance.yaml'));
  const policyRel = policyRelPath(ws, policy.file);
  const decide: Decide = (action, rel) => decideGuarded(policy, policyRel, role, action, rel);
  const root = await workspaceRoot(ws);
  const result = await planCommand({ root, cwd: root, argv: ['node', '--test'], pathDirs: defaultPathDirs(ws), writableBases: writableBases(policy, role), decide });
  if (!result.ok) throw new Error(result.reason);
  const rel = (p: string) => path.relative(ws, p) || '.';
  const { plan, links } = result.value;
  return {
    writable: plan.writable.map(rel).sort(),
    readOnly: plan.readOnly.map(rel).sort(),
    hidden: plan.hidden.map((h) => `${rel(h.path)} ${h.kind}`).sort(),
    links: [...links.keys()].sort(),
  };
}

describe('run_command: the sandbox plan from the policy', () => {
  let ws: string | undefined;
  let outside: string | undefined;
  afterEach(() => {
    removeWorkspace(ws);
    removeWorkspace(outside);
    ws = outside = undefined;
  });

  it('writes only in the existing bases of the allow rules; hides read-denied paths anywhere; protects hard links', async () => {
    ws = tempWorkspace({
      'src/a.ts': 'a',
      'src/b.key': 'k',
      'src/.env.local': 'e',
      'src/deep/c.ts': 'c',
      'test/': '',
      '.env': 'SECRET',
      '.git/config': 'x',
      '.choragen/audit/run.jsonl': '{}',
      'package.json': '{}',
      'node_modules/x/index.js': '',
      'node_modules/x/.env': 'pkg secret',
      'docs/readme.md': '',
    });
    outside = tempWorkspace({ 'secret.txt': 'outside' });
    fs.linkSync(path.join(outside, 'secret.txt'), path.join(ws, 'src/hard.ts'));
    fs.symlinkSync('../docs', path.join(ws, 'src/docs-link'));
    const got = await planFor(ws, BASE_POLICY);
    expect(got.writable).to.deep.equal(['src', 'test']);
    expect(got.hidden).to.deep.equal([
      '.choragen dir', '.env file', '.git dir', 'node_modules/x/.env file', 'src/.env.local file', 'src/b.key file',
    ]);
    expect(got.readOnly).to.deep.equal(['src/hard.ts']);
    expect(got.links).to.deep.equal([]);
  });

  it('hides every other name in the workspace of a file hidden for reads (a hard link would show the secret)', async () => {
    ws = tempWorkspace({
      '.env': 'SECRET',
      'secrets/nested/api.txt': 'TOKEN',
      'src/a.ts': 'a',
      'docs/': '',
      '.git/config': '[remote] url = https://user:token@host/x',
    });
    fs.linkSync(path.join(ws, '.env'), path.join(ws, 'src/notes.ts'));
    fs.linkSync(path.join(ws, '.env'), path.join(ws, 'docs/env-copy.md'));
    fs.linkSync(path.join(ws, 'secrets/nested/api.txt'), path.join(ws, 'docs/api.md'));
    fs.linkSync(path.join(ws, '.git/config'), path.join(ws, 'docs/git-config.md'));
    // A hard link between two readable files stays readable (pnpm's node_modules are made of them).
    fs.linkSync(path.join(ws, 'src/a.ts'), path.join(ws, 'docs/a-copy.ts'));
    const got = await planFor(ws, `${BASE_POLICY}\n`.replace('reads:\n  deny:\n', 'reads:\n  deny:\n    - { pattern: "secrets/**" }\n'));
    expect(got.hidden).to.deep.equal([
      '.env file', '.git dir', 'docs/api.md file', 'docs/env-copy.md file', 'docs/git-config.md file', 'secrets dir', 'src/notes.ts file',
    ]);
    // Hidden wins: the alias in a writable area is no longer merely read-only.
    expect(got.readOnly).to.deep.equal(['src/a.ts']);
  });

  it('with the whole workspace writable: protects .git anywhere, the policy file, approve paths and denied trees', async () => {
    ws = tempWorkspace({
      'src/a.ts': 'a',
      'package.json': '{}',
      'vendor/lib/.git/HEAD': 'ref',
      'gen/out.js': '',
      'gen/deeper/x.js': '',
      '.git/HEAD': 'ref',
      'README.md': '',
    });
    fs.symlinkSync('README.md', path.join(ws, 'readme-link'));
    fs.symlinkSync('src/a.ts', path.join(ws, 'a.key'));
    const got = await planFor(ws, `
mutations:
  deny:
    - { pattern: "**/.env*" }
    - { pattern: ".git/**" }
    - { pattern: "**/*.key" }
  approve:
    - { pattern: "package.json", actions: [modify] }
reads:
  deny:
    - { pattern: ".git/**" }
roles:
  impl:
    allow: [{ pattern: "**" }]
    deny: [{ pattern: "gen/**" }]
`);
    expect(got.writable).to.deep.equal(['.']);
    expect(got.readOnly).to.deep.equal(['choragen.governance.yaml', 'gen', 'package.json']);
    // A .git at any depth is the runtime's (policy/protected-paths.ts): not even read, so hidden.
    expect(got.hidden).to.deep.equal(['.git dir', 'vendor/lib/.git dir']);
    // A link the role may not change (its own path matches a deny) is put back if the command changes it.
    expect(got.links).to.deep.equal(['a.key']);
  });

  it('drops bases that are missing, symlinks, or inside protected or hidden paths', async () => {
    ws = tempWorkspace({ 'real/a.ts': '', '.git/hooks/x': '', 'secrets/.env.d/': '' });
    fs.symlinkSync('real', path.join(ws, 'src'));
    const got = await planFor(ws, `
mutations:
  deny: [{ pattern: ".git/**" }]
reads:
  deny: [{ pattern: "secrets/**" }]
roles:
  impl:
    allow:
      - { pattern: "src/**" }
      - { pattern: ".git/hooks/**" }
      - { pattern: "secrets/out/**" }
      - { pattern: "nowhere/**" }
`);
    expect(got.writable).to.deep.equal([]);
    expect(got.hidden).to.deep.equal(['.git dir', 'secrets dir']);
  });

  it('protects files file by file where only narrower allow globs apply', async () => {
    ws = tempWorkspace({ 'src/a.ts': '', 'src/assets/logo.png': '', 'src/assets/b.ts': '' });
    const got = await planFor(ws, 'roles:\n  impl:\n    allow: [{ pattern: "src/**/*.ts" }]\n');
    expect(got.writable).to.deep.equal(['src']);
    expect(got.readOnly).to.deep.equal(['src/assets/logo.png']);
  });

  it('refuses to plan when the policy would protect too many paths one by one', async () => {
    ws = tempWorkspace({ 'src/': '' });
    for (let i = 0; i <= MAX_PROTECTED_PATHS; i++) fs.writeFileSync(path.join(ws, 'src', `f${i}.key`), '');
    const policy = 'mutations:\n  deny: [{ pattern: "**/*.key" }]\nroles:\n  impl:\n    allow: [{ pattern: "src/**" }]\n';
    const err = await planFor(ws, policy).catch((e: Error) => e);
    expect((err as Error).message).to.match(/protects 1,501 paths one by one .* cover directories whole with deny rules/);
  });

  it('stops at a name that is not UTF-8 where it would need protecting or could change (bubblewrap cannot be given it)', async () => {
    const odd = (rel: string, bytes: number[]) => Buffer.concat([Buffer.from(`${ws}/${rel}`), Buffer.from(bytes)]);
    ws = tempWorkspace({ 'src/a.ts': '', 'docs/': '' });
    // Outside the writable areas, a readable one is no matter.
    fs.writeFileSync(odd('docs/', [0x6e, 0xff, 0x2e, 0x6d, 0x64]), '');
    expect((await planFor(ws, BASE_POLICY)).writable).to.deep.equal(['src']);

    const cases: Array<[() => void, RegExp]> = [
      [() => fs.writeFileSync(odd('src/', [0x78, 0xff, 0x2e, 0x74, 0x73]), ''), /^src\/x\\xff\.ts: its name is not valid UTF-8, so the sandbox can neither protect it nor check what a command does to it; rename it$/],
      [() => fs.writeFileSync(odd('', [0xfe, 0x2e, 0x6b, 0x65, 0x79]), ''), /^\\xfe\.key: .* the sandbox cannot hide it; rename it$/],
      [() => fs.mkdirSync(odd('docs/', [0x64, 0xff])), /^docs\/d\\xff: .* the sandbox cannot check what is inside it; rename it$/],
    ];
    for (const [plant, reason] of cases) {
      removeWorkspace(ws);
      ws = tempWorkspace({ 'src/a.ts': '', 'docs/': '' });
      plant();
      expect(((await planFor(ws, BASE_POLICY).catch((e: Error) => e)) as Error).message).to.match(reason);
    }
  });

  it('hides whole a directory it cannot list: too deep to walk, or another filesystem mounted inside', async function () {
    ws = tempWorkspace({ 'src/a.ts': '', 'docs/': '' });
    const script = `const fs = require('fs'); process.chdir(process.argv[1]);
      for (let i = 0; i < 260; i++) { fs.mkdirSync('a'); process.chdir('a'); }
      fs.writeFileSync('.env', 'SECRET');`;
    execFileSync(process.execPath, ['-e', script, path.join(ws, 'docs')]);
    const deep = ['docs', ...Array(255).fill('a')].join('/'); // 256 components: no tool could name what is below
    expect((await planFor(ws, BASE_POLICY)).hidden).to.deep.equal([`${deep} dir`]);

    fs.mkdirSync(path.join(ws, 'src', 'mnt'));
    const mounted = mountTmpfs(64, path.join(ws, 'src', 'mnt'));
    if (mounted === null) this.skip(); // not root: nothing to mount
    try {
      fs.writeFileSync(path.join(mounted.dir, '.env'), 'SECRET');
      expect((await planFor(ws, BASE_POLICY)).hidden).to.deep.equal([`${deep} dir`, 'src/mnt dir']);
    } finally {
      mounted.unmount();
    }
  });
});
