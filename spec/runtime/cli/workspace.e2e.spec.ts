// Every command finds the workspace as git finds a repository (issue 19
// item 6): from a subdirectory, up to the nearest choragen.governance.yaml,
// stopping at the git root; paths typed on the command line are taken from
// the current directory.
import { expect } from 'chai';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveWorkspace, workspaceRelative } from '../../../runtime/paths.js';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

describe('workspace discovery', () => {
  let ws: string;
  beforeEach(() => { ws = makeWorkspace({ 'choragen.governance.yaml': TEST_POLICY, 'src/deep/er/a.ts': 'x', 'docs/a.md': 'x' }); });
  afterEach(() => removeWorkspace(ws));

  it('walks up to the nearest policy, stops at a git root, else stays in the current directory', () => {
    expect(resolveWorkspace(undefined, path.join(ws, 'src/deep/er'))).to.equal(ws);
    // A git root below the policy is a workspace of its own (like a nested repository).
    mkdirSync(path.join(ws, 'src/deep/.git'));
    expect(resolveWorkspace(undefined, path.join(ws, 'src/deep/er'))).to.equal(path.join(ws, 'src/deep'));
    // --workspace is taken as given.
    expect(resolveWorkspace(path.join(ws, 'src'), path.join(ws, 'docs'))).to.equal(path.join(ws, 'src'));
    const bare = makeWorkspace({ 'x/y.txt': '' });
    try {
      expect(resolveWorkspace(undefined, path.join(bare, 'x'))).to.equal(realpathSync(path.join(bare, 'x')));
    } finally {
      removeWorkspace(bare);
    }
  });

  it('takes a typed path from the current directory when that is inside the workspace', () => {
    expect(workspaceRelative(ws, 'a.ts', path.join(ws, 'src/deep/er'))).to.equal('src/deep/er/a.ts');
    expect(workspaceRelative(ws, '../../../docs/a.md', path.join(ws, 'src/deep/er'))).to.equal('docs/a.md');
    expect(workspaceRelative(ws, 'src/a.ts', '/')).to.equal('src/a.ts');
    expect(workspaceRelative(ws, path.join(ws, 'src/a.ts'), '/')).to.equal('src/a.ts');
  });

  it('policy:check, agent:list and capabilities:manifest work from a subdirectory', async () => {
    const script = path.join(ws, 'run.json');
    writeFileSync(script, JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'text', text: 'done' }] }] }] }));
    const sub = path.join(ws, 'src/deep');
    const run = await runCli(['agent:start', '--role', 'impl', '-m', 'hi', '--provider', 'script', '--script', '../../run.json'], { cwd: sub });
    expect(run.code, run.stderr).to.equal(0);
    expect(existsSync(path.join(ws, '.choragen/audit'))).to.equal(true);
    expect(existsSync(path.join(sub, '.choragen'))).to.equal(false);

    const check = await runCli(['policy:check', '--role', 'impl', '--action', 'modify', 'er/a.ts', '--json'], { cwd: sub });
    expect(check.code, check.stderr).to.equal(0);
    expect(JSON.parse(check.stdout)).to.include({ decision: 'allow', path: 'src/deep/er/a.ts' });

    const list = await runCli(['agent:list'], { cwd: sub });
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/impl\s/).and.to.not.include('no sessions');
    // The first line of the session's instructions, from its transcript.
    expect(list.stdout).to.match(/^id\s+role\s+model\s+parent\s+status\s+age\s+tokens\s+instructions\n/).and.to.match(/ hi\n1 session\n$/);
    const manifest = await runCli(['capabilities:manifest', '--json'], { cwd: sub });
    expect(manifest.code, manifest.stderr).to.equal(0);
  });

  it('init in a subdirectory of a git repository writes the policy at the git root; with a policy above, it says so', async () => {
    const repo = makeWorkspace({ 'pkg/src/a.ts': 'x' });
    try {
      mkdirSync(path.join(repo, '.git'));
      const r = await runCli(['init'], { cwd: path.join(repo, 'pkg/src') });
      expect(r.code, r.stderr).to.equal(0);
      expect(existsSync(path.join(repo, 'choragen.governance.yaml'))).to.equal(true);
      expect(existsSync(path.join(repo, 'pkg/src/choragen.governance.yaml'))).to.equal(false);
      const again = await runCli(['init'], { cwd: path.join(repo, 'pkg') });
      expect(again.code).to.equal(2);
      expect(again.stderr).to.include(path.join(repo, 'choragen.governance.yaml')).and.to.include('already exists');
    } finally {
      removeWorkspace(repo);
    }
  });
});
