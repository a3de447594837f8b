// The check after a command: each created, modified or deleted path decided
// like a file tool's change; what the role may not do does not stand.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { checkChanges } from '../../../capabilities/commands/changes.js';
import type { Decide } from '../../../capabilities/commands/plan.js';
import { snapshotAreas } from '../../../capabilities/sandbox/snapshot.js';
import { canonicalize, workspaceRoot } from '../../../policy/canonical.js';
import { parsePolicy } from '../../../policy/load.js';
import { decideGuarded } from '../../../policy/protected-paths.js';
import { removeWorkspace, tempWorkspace } from '../sandbox/fixture.js';

const POLICY = `
mutations:
  deny:
    - { pattern: "**/*.key", reason: "keys" }
  approve:
    - { pattern: "src/config/**", actions: [create] }
reads:
  deny:
    - { pattern: "**/.env*" }
roles:
  impl:
    allow:
      - { pattern: "src/**", actions: [create, modify, delete] }
    deny:
      - { pattern: "src/keep", actions: [delete] }
`;

describe('run_command: the check after the run', () => {
  let ws: string | undefined;
  let outside: string | undefined;
  afterEach(() => {
    removeWorkspace(ws);
    removeWorkspace(outside);
    ws = outside = undefined;
  });

  async function check(change: (ws: string) => void, links: Map<string, string> = new Map()) {
    const policy = parsePolicy(POLICY, 'p.yaml');
    const decide: Decide = (action, rel) => decideGuarded(policy, null, 'impl', action, rel);
    const areas = [path.join(ws!, 'src')];
    const root = await workspaceRoot(ws!);
    const before = await snapshotAreas(root, areas);
    if (!before.ok) throw new Error(before.reason);
    change(ws!);
    return checkChanges({ root, decide, before: before.snapshot, snapshot: () => snapshotAreas(root, areas), links, resolve: (rel) => canonicalize(ws!, rel) });
  }

  it('keeps allowed changes and removes created paths the role may not create', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'a', 'src/b.ts': 'b', '.env': 'S' });
    const report = await check((w) => {
      fs.writeFileSync(path.join(w, 'src/a.ts'), 'changed');
      fs.rmSync(path.join(w, 'src/b.ts'));
      fs.writeFileSync(path.join(w, 'src/new.ts'), 'new');
      fs.writeFileSync(path.join(w, 'src/new.key'), 'k');
      fs.mkdirSync(path.join(w, 'src/sub/.git/hooks'), { recursive: true });
      fs.writeFileSync(path.join(w, 'src/sub/.git/hooks/pre-commit'), '#!/bin/sh\n');
      fs.mkdirSync(path.join(w, 'src/config'));
      fs.writeFileSync(path.join(w, 'src/config/app.json'), '{}');
    });
    expect(report.stood.map((c) => `${c.kind} ${c.rel}`).sort()).to.deep.equal(['created src/new.ts', 'deleted src/b.ts', 'modified src/a.ts']);
    expect(report.refused.map((r) => `${r.kind} ${r.rel} ${r.decision.rule} ${r.undone}`)).to.deep.equal([
      // The approve rule covers the directory too ("src/config/**" matches "src/config"): it goes with its content.
      'created src/config mutations.approve[0] true',
      'created src/new.key mutations.deny[0] true',
      'created src/sub/.git builtin.protected true',
    ]);
    expect(report.refused[0]!.decision.reason).to.match(/not put to a human afterwards: make this change with a file tool/);
    for (const gone of ['src/new.key', 'src/sub/.git', 'src/config/app.json']) expect(fs.existsSync(path.join(ws, gone)), gone).to.equal(false);
    expect(fs.readFileSync(path.join(ws, 'src/new.ts'), 'utf8')).to.equal('new');
    expect(report.unchecked).to.deep.equal([]);
  });

  it('removes created links that lead outside the workspace or to a path that may not be read', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'a', '.env': 'S' });
    outside = tempWorkspace({ 'secret': 'x' });
    const report = await check((w) => {
      fs.symlinkSync(path.join(outside!, 'secret'), path.join(w, 'src/out'));
      fs.symlinkSync('../.env', path.join(w, 'src/env'));
      fs.symlinkSync('a.ts', path.join(w, 'src/alias.ts'));
    });
    expect(report.refused.map((r) => `${r.rel} ${r.decision.rule}`).sort()).to.deep.equal(['src/env reads.deny[0]', 'src/out path']);
    expect(report.stood.map((c) => c.rel)).to.deep.equal(['src/alias.ts']);
    expect(fs.existsSync(path.join(ws, 'src/out'))).to.equal(false);
    expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).to.equal('x');
  });

  it('puts back a directory or a link the role may not delete, and says when a change could not be undone', async () => {
    ws = tempWorkspace({ 'src/keep/': '', 'src/x.key': 'k' });
    fs.symlinkSync('x.key', path.join(ws, 'src/keylink.key'));
    const report = await check(
      (w) => {
        fs.rmdirSync(path.join(w, 'src/keep'));
        fs.rmSync(path.join(w, 'src/keylink.key'));
        // The plan keeps such a file read-only; were it changed anyway, it is reported, not hidden.
        fs.writeFileSync(path.join(w, 'src/x.key'), 'changed');
      },
      new Map([['src/keylink.key', 'x.key']]),
    );
    expect(report.refused.map((r) => `${r.kind} ${r.rel} ${r.undone}`).sort()).to.deep.equal([
      'deleted src/keep true', 'deleted src/keylink.key true', 'modified src/x.key false',
    ]);
    expect(report.refused.find((r) => r.rel === 'src/x.key')!.why).to.match(/no copy of the old content/);
    expect(fs.statSync(path.join(ws, 'src/keep')).isDirectory()).to.equal(true);
    expect(fs.readlinkSync(path.join(ws, 'src/keylink.key'))).to.equal('x.key');
  });

  it('clears set-user-ID and set-group-ID bits a command left on a file, and says so', async () => {
    ws = tempWorkspace({ 'src/a.sh': '#!/bin/sh\n' });
    const report = await check((w) => {
      fs.writeFileSync(path.join(w, 'src/new.sh'), '#!/bin/sh\n');
      fs.chmodSync(path.join(w, 'src/new.sh'), 0o4755);
      fs.chmodSync(path.join(w, 'src/a.sh'), 0o2755);
    });
    expect(report.refused.map((r) => `${r.kind} ${r.rel} ${r.decision.rule} ${r.undone}`).sort()).to.deep.equal([
      'created src/new.sh builtin.setid true', 'modified src/a.sh builtin.setid true',
    ]);
    expect(fs.statSync(path.join(ws, 'src/new.sh')).mode & 0o7777).to.equal(0o755);
    expect(fs.statSync(path.join(ws, 'src/a.sh')).mode & 0o7777).to.equal(0o755);
    // The files themselves stand.
    expect(report.stood.map((c) => c.rel).sort()).to.deep.equal(['src/a.sh', 'src/new.sh']);
  });

  it('looks inside a directory the command made unreadable', async () => {
    ws = tempWorkspace({ 'src/a.ts': 'a' });
    const report = await check((w) => {
      fs.mkdirSync(path.join(w, 'src/hide'));
      fs.writeFileSync(path.join(w, 'src/hide/stolen.key'), 'k');
      fs.chmodSync(path.join(w, 'src/hide'), 0o000);
    });
    expect(report.refused.map((r) => r.rel)).to.deep.equal(['src/hide/stolen.key']);
    expect(fs.existsSync(path.join(ws, 'src/hide/stolen.key'))).to.equal(false);
    expect(report.unchecked).to.deep.equal([]);
  });
});
