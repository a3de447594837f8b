// Which program argv[0] names, as the guard is told about it: a program in
// the workspace is looked at through the broker's resolution and the
// authority (never followed out of the workspace), one on the system PATH
// through the host.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { resolveCommand } from '../../../capabilities/commands/program.js';
import { defaultPathDirs } from '../../../capabilities/sandbox/plan.js';
import { canonicalize, workspaceRoot } from '../../../policy/canonical.js';
import { guardCommand } from '../../../policy/command-guard.js';
import { removeWorkspace, tempWorkspace } from '../sandbox/fixture.js';

describe('run_command: the program argv[0] names', () => {
  let ws: string | undefined;
  afterEach(() => {
    removeWorkspace(ws);
    ws = undefined;
  });

  async function lookUp(argv: string[]) {
    const root = await workspaceRoot(ws!);
    const program = await resolveCommand(argv, { root, cwd: root, pathDirs: defaultPathDirs(ws!), resolve: (rel) => canonicalize(ws!, rel) });
    return { program, guard: guardCommand(argv, program.facts) };
  }

  function executable(rel: string): void {
    fs.mkdirSync(path.dirname(path.join(ws!, rel)), { recursive: true });
    fs.writeFileSync(path.join(ws!, rel), '#!/usr/bin/env node\n', { mode: 0o755 });
  }

  it("finds a local tool in node_modules/.bin through its link, and judges what it leads to", async () => {
    ws = tempWorkspace({ 'node_modules/.bin/': '' });
    executable('node_modules/typescript/bin/tsc');
    fs.symlinkSync('../typescript/bin/tsc', path.join(ws, 'node_modules/.bin/tsc'));
    const tsc = await lookUp(['tsc', '--noEmit']);
    expect(tsc.program).to.deep.equal({ facts: { realPath: path.join(ws, 'node_modules/typescript/bin/tsc') }, found: path.join(ws, 'node_modules/.bin/tsc') });
    expect(tsc.guard).to.equal(null);

    // A link named like a harmless tool that leads to a shell in the workspace is a shell.
    executable('node_modules/evil/dash');
    fs.symlinkSync('../evil/dash', path.join(ws, 'node_modules/.bin/lint'));
    expect((await lookUp(['lint'])).guard?.rule).to.equal('builtin.shell');
  });

  it('judges the program a package runner runs as it judges argv[0]: npx tsc, npm exec, npx npx', async () => {
    ws = tempWorkspace({ 'node_modules/.bin/': '' });
    executable('node_modules/typescript/bin/tsc');
    fs.symlinkSync('../typescript/bin/tsc', path.join(ws, 'node_modules/.bin/tsc'));
    const fine = await lookUp(['npx', 'tsc', '--noEmit']);
    expect(fine.program.facts.runs).to.deep.equal({ realPath: path.join(ws, 'node_modules/typescript/bin/tsc') });
    expect(fine.guard).to.equal(null);

    // node_modules/.bin/eslint leads to a shell in the workspace, or out of it: what npx runs is refused.
    executable('node_modules/evil/bash');
    fs.symlinkSync('../evil/bash', path.join(ws, 'node_modules/.bin/eslint'));
    fs.symlinkSync('/bin/sh', path.join(ws, 'node_modules/.bin/prettier'));
    for (const argv of [['npx', 'eslint', '-c', 'id'], ['npm', 'exec', '--', 'eslint', '-c', 'id'], ['npx', 'npx', 'eslint', '-c', 'id']]) {
      expect((await lookUp(argv)).guard?.rule, argv.join(' ')).to.equal('builtin.shell');
    }
    expect((await lookUp(['npx', 'prettier', '-c', 'id'])).guard?.rule).to.equal('builtin.program-path');
  });

  it('refuses a workspace program whose link leads out of the workspace, rather than follow it there', async () => {
    ws = tempWorkspace({ 'node_modules/.bin/': '', 'bin/': '' });
    fs.symlinkSync('/bin/sh', path.join(ws, 'node_modules/.bin/mytool'));
    fs.symlinkSync('/usr/bin/env', path.join(ws, 'bin/run'));
    const bare = await lookUp(['mytool']);
    expect(bare.program.facts).to.deep.equal({ outsideAllowedDirs: true, realPath: null });
    expect(bare.guard).to.deep.include({ rule: 'builtin.program-path' });
    expect(bare.guard!.reason).to.match(/^mytool is found in the workspace \(node_modules\/\.bin\) through a symlink that leads out of it/);
    const byPath = await lookUp(['./bin/run', 'x']);
    expect(byPath.program).to.deep.equal({ facts: { outsideAllowedDirs: true, realPath: null }, found: null });
    expect(byPath.guard?.rule).to.equal('builtin.program-path');
  });

  it('finds system programs first, on the host, and says when there is none', async () => {
    ws = tempWorkspace({ 'node_modules/.bin/': '' });
    executable('node_modules/.bin/node'); // never chosen over the system's
    const node = await lookUp(['node', '--test']);
    expect(node.program.found).to.not.equal(path.join(ws, 'node_modules/.bin/node'));
    expect(node.program.facts.realPath).to.equal(fs.realpathSync(node.program.found!));
    expect((await lookUp(['no-such-program-here'])).program).to.deep.equal({ facts: { realPath: null }, found: null });
  });
});
