// Git hygiene (issue 19 item 7): init adds .choragen/ to .gitignore and a run
// leaves `git status` clean of choragen's records; the session refs are
// explained the first time and removed by agent:cleanup with the transcripts;
// outside a git repository agent:start warns once and goes on.
import { expect } from 'chai';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_POLICY, makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';
import { realGit } from '../../support/git-repo.js';

const WRITE = { sessions: [{ role: 'impl', turns: [
  { content: [{ type: 'tool_use', name: 'write_file', input: { path: 'src/a.ts', content: 'export const a = 1;\n' } }] },
  { content: [{ type: 'text', text: 'done' }] },
] }] };

describe('git hygiene', () => {
  let ws: string;
  let script: string;
  beforeEach(() => {
    ws = makeWorkspace({ 'README.md': '# x\n' });
    script = path.join(makeWorkspace({ 'run.json': JSON.stringify(WRITE) }), 'run.json');
  });
  afterEach(() => {
    removeWorkspace(ws);
    removeWorkspace(path.dirname(script));
  });
  const start = () => runCli(['agent:start', '--role', 'impl', '-m', 'write a', '--provider', 'script', '--script', script, '-w', ws]);

  it('init adds .choragen/ to .gitignore once; after a run git status shows only the work', async () => {
    realGit(ws, 'init', '-q');
    writeFileSync(path.join(ws, '.gitignore'), 'node_modules');
    const init = await runCli(['init', '-w', ws]);
    expect(init.code, init.stderr).to.equal(0);
    expect(init.stdout).to.include('added .choragen/ to .gitignore');
    expect(readFileSync(path.join(ws, '.gitignore'), 'utf8')).to.equal("node_modules\n# choragen's audit log, metrics and transcripts\n.choragen/\n");
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY);
    await runCli(['init', '--force', '-w', ws]);
    expect(readFileSync(path.join(ws, '.gitignore'), 'utf8').match(/\.choragen\//g)).to.have.length(1);
    realGit(ws, 'add', '-A');
    realGit(ws, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init');
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY);
    realGit(ws, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'policy');
    const run = await start();
    expect(run.code, run.stderr).to.equal(0);
    expect(realGit(ws, 'status', '--porcelain', '--untracked-files=all')).to.equal('?? src/a.ts\n');
  });

  it('a run without init still leaves .choragen/ out of git; the session ref is explained once, then cleaned up with the transcripts', async () => {
    realGit(ws, 'init', '-q');
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY);
    const first = await start();
    expect(first.code, first.stderr).to.equal(0);
    expect(realGit(ws, 'status', '--porcelain', '--untracked-files=all')).to.not.include('.choragen');
    const explain = /kept as a commit on its own ref, refs\/choragen\/sessions\/<id>, outside your branches/;
    expect(first.stderr.match(new RegExp(explain.source, 'g'))).to.have.length(1);
    const second = await start();
    expect(second.stderr).to.match(/refs\/choragen\/sessions\/\S+ -> [0-9a-f]{40}/).and.to.not.match(explain);
    expect(realGit(ws, 'for-each-ref', '--format=%(refname)', 'refs/choragen/sessions').trim().split('\n')).to.have.length(2);
    const sessions = path.join(ws, '.choragen/sessions');
    expect(readdirSync(sessions).filter((f) => f.endsWith('.jsonl'))).to.have.length(2);

    const dry = await runCli(['agent:cleanup', '--older-than', '1ms', '--dry-run', '-w', ws]);
    expect(dry.stdout).to.match(/would remove \.choragen\/sessions\/\S+\.jsonl/).and.to.match(/would remove refs\/choragen\/sessions\//);
    expect(readdirSync(sessions)).to.have.length(4);
    const clean = await runCli(['agent:cleanup', '--older-than', '1ms', '-w', ws]);
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.include('6 items removed');
    expect(readdirSync(sessions)).to.deep.equal([]);
    expect(realGit(ws, 'for-each-ref', 'refs/choragen/sessions')).to.equal('');
    // The same durations as --since; a bad one is a usage error.
    expect((await runCli(['agent:cleanup', '--older-than', '2w', '-w', ws])).code).to.equal(0);
    const bad = await runCli(['agent:cleanup', '--older-than', 'soon', '-w', ws]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--older-than must be a duration like .*7d/);
  });

  it('outside a git repository agent:start warns once and goes on', async () => {
    writeFileSync(path.join(ws, 'choragen.governance.yaml'), TEST_POLICY);
    const run = await start();
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr.match(/is not in a git repository: git_status and git_diff will fail and no session commits are recorded/g)).to.have.length(1);
    expect(readFileSync(path.join(ws, 'src/a.ts'), 'utf8')).to.equal('export const a = 1;\n');
  });
});
