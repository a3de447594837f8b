import { expect } from 'chai';
import { BWRAP_MAX_ARGS, bwrapArgs } from '../../../capabilities/sandbox/bwrap-args.js';
import type { HostLayout } from '../../../capabilities/sandbox/host.js';
import {
  SANDBOX_HOME,
  SANDBOX_TMPDIR,
  SandboxPlanError,
  defaultPathDirs,
  type SandboxPlan,
} from '../../../capabilities/sandbox/plan.js';
import type { ScratchLayout } from '../../../capabilities/sandbox/scratch.js';

const WS = '/home/dev/project';
const SCRATCH: ScratchLayout = {
  root: '/tmp/choragen-sandbox-x',
  home: '/tmp/choragen-sandbox-x/home',
  tmp: '/tmp/choragen-sandbox-x/tmp',
  emptyFile: '/tmp/choragen-sandbox-x/empty',
};
const HOST: HostLayout = {
  hidden: [
    { path: '/home', kind: 'dir' },
    { path: '/root', kind: 'dir' },
    { path: '/etc/shadow', kind: 'file' },
  ],
  exposed: ['/root/.nvm/versions/node/v20'],
};

function plan(fields: Partial<SandboxPlan> = {}): SandboxPlan {
  return {
    workspace: WS,
    cwd: WS,
    argv: ['npm', 'test'],
    writable: [`${WS}/src`],
    readOnly: [],
    hidden: [],
    pathDirs: defaultPathDirs(WS, '/usr/bin'),
    ...fields,
  };
}

/** The mount operations in order, as [flag, ...operands] tuples. */
function mounts(args: string[]): string[][] {
  const arity: Record<string, number> = { '--ro-bind': 2, '--bind': 2, '--tmpfs': 1, '--dev': 1, '--proc': 1, '--remount-ro': 1 };
  const ops: string[][] = [];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const n = arity[args[i]!];
    if (n !== undefined) {
      ops.push(args.slice(i, i + n + 1));
      i += n;
    }
  }
  return ops;
}

function indexOfOp(ops: string[][], op: string[]): number {
  const i = ops.findIndex((o) => o.join('\0') === op.join('\0'));
  expect(i, `missing ${op.join(' ')}`).to.be.greaterThan(-1);
  return i;
}

function setenv(args: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a === '--setenv') env[args[i + 1]!] = args[i + 2]!;
  });
  return env;
}

describe('sandbox bwrap arguments', () => {
  it('starts from a read-only root with a fresh /dev and /proc', () => {
    const ops = mounts(bwrapArgs(plan(), HOST, SCRATCH, 3));
    expect(ops.slice(0, 3)).to.deep.equal([['--ro-bind', '/', '/'], ['--dev', '/dev'], ['--proc', '/proc']]);
  });

  it('unshares every namespace, requires the user namespace, disables nested ones and drops all capabilities', () => {
    const args = bwrapArgs(plan(), HOST, SCRATCH, 3);
    const flags = args.slice(0, args.indexOf('--'));
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--clearenv']) {
      expect(flags).to.include(flag);
    }
    expect(flags[flags.indexOf('--cap-drop') + 1]).to.equal('ALL');
    expect(flags).not.to.include('--share-net');
    expect(flags[flags.indexOf('--json-status-fd') + 1]).to.equal('3');
  });

  it('gives the command only PATH, HOME and TMPDIR, and nothing of the broker environment', () => {
    process.env['CHORAGEN_ARGS_SPEC_SECRET'] = 'sk-never-in-args';
    try {
      const args = bwrapArgs(plan(), HOST, SCRATCH, 3);
      expect(setenv(args)).to.deep.equal({
        PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${WS}/node_modules/.bin`,
        HOME: SANDBOX_HOME,
        TMPDIR: SANDBOX_TMPDIR,
      });
      expect(args.indexOf('--clearenv')).to.be.lessThan(args.indexOf('--setenv'));
      expect(args.join('\n')).not.to.include('sk-never-in-args');
    } finally {
      delete process.env['CHORAGEN_ARGS_SPEC_SECRET'];
    }
  });

  it('puts node_modules/.bin after the system directories, and node where PATH would miss it', () => {
    expect(defaultPathDirs('/w', '/opt/node/bin')).to.deep.equal([
      '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin', '/opt/node/bin', '/w/node_modules/.bin',
    ]);
  });

  it('ends with the command after --, in the plan working directory', () => {
    const args = bwrapArgs(plan({ argv: ['npx', 'mocha', '--', '-x'], cwd: `${WS}/src` }), HOST, SCRATCH, 3);
    expect(args.slice(args.indexOf('--'))).to.deep.equal(['--', 'npx', 'mocha', '--', '-x']);
    expect(args[args.indexOf('--chdir') + 1]).to.equal(`${WS}/src`);
  });

  it('hides host directories with empty tmpfs remounted read-only at the end, and host secret files with an empty file', () => {
    const ops = mounts(bwrapArgs(plan(), HOST, SCRATCH, 3));
    const firstRemount = ops.findIndex((o) => o[0] === '--remount-ro');
    expect(ops.slice(firstRemount)).to.deep.equal([
      ['--remount-ro', '/tmp'],
      ['--remount-ro', '/home'],
      ['--remount-ro', '/root'],
    ]);
    for (const dir of ['/tmp', '/home', '/root']) {
      expect(indexOfOp(ops, ['--tmpfs', dir])).to.be.lessThan(indexOfOp(ops, ['--ro-bind', WS, WS]));
    }
    indexOfOp(ops, ['--ro-bind', SCRATCH.emptyFile, '/etc/shadow']);
  });

  it('binds the workspace back under a hidden home, and node installed there read-only', () => {
    const ops = mounts(bwrapArgs(plan(), HOST, SCRATCH, 3));
    expect(indexOfOp(ops, ['--tmpfs', '/home'])).to.be.lessThan(indexOfOp(ops, ['--ro-bind', WS, WS]));
    expect(indexOfOp(ops, ['--tmpfs', '/root'])).to.be.lessThan(
      indexOfOp(ops, ['--ro-bind', '/root/.nvm/versions/node/v20', '/root/.nvm/versions/node/v20']),
    );
  });

  it('binds the workspace read-only and only the writable paths writable, after it', () => {
    const ops = mounts(bwrapArgs(plan({ writable: [`${WS}/src`, `${WS}/test/out.txt`] }), HOST, SCRATCH, 3));
    const ws = indexOfOp(ops, ['--ro-bind', WS, WS]);
    expect(indexOfOp(ops, ['--bind', `${WS}/src`, `${WS}/src`])).to.be.greaterThan(ws);
    expect(indexOfOp(ops, ['--bind', `${WS}/test/out.txt`, `${WS}/test/out.txt`])).to.be.greaterThan(ws);
    expect(ops.filter((o) => o[0] === '--bind').map((o) => o[2])).to.have.members([
      `${WS}/src`, `${WS}/test/out.txt`, SANDBOX_HOME, SANDBOX_TMPDIR,
    ]);
  });

  it('binds the whole workspace writable when the plan opens it, with protected paths read-only on top', () => {
    const p = plan({ writable: [WS], readOnly: [`${WS}/.git`, `${WS}/choragen.governance.yaml`] });
    const ops = mounts(bwrapArgs(p, HOST, SCRATCH, 3));
    const ws = indexOfOp(ops, ['--bind', WS, WS]);
    expect(indexOfOp(ops, ['--ro-bind', `${WS}/.git`, `${WS}/.git`])).to.be.greaterThan(ws);
    expect(indexOfOp(ops, ['--ro-bind', `${WS}/choragen.governance.yaml`, `${WS}/choragen.governance.yaml`])).to.be.greaterThan(ws);
    expect(ops).not.to.deep.include(['--ro-bind', WS, WS]);
  });

  it('hides workspace paths: a file behind the empty file, a directory behind a read-only empty tmpfs', () => {
    const p = plan({
      writable: [WS],
      hidden: [
        { path: `${WS}/.env`, kind: 'file' },
        { path: `${WS}/secrets`, kind: 'dir' },
      ],
    });
    const ops = mounts(bwrapArgs(p, HOST, SCRATCH, 3));
    const ws = indexOfOp(ops, ['--bind', WS, WS]);
    expect(indexOfOp(ops, ['--ro-bind', SCRATCH.emptyFile, `${WS}/.env`])).to.be.greaterThan(ws);
    expect(indexOfOp(ops, ['--tmpfs', `${WS}/secrets`])).to.be.greaterThan(ws);
    indexOfOp(ops, ['--remount-ro', `${WS}/secrets`]);
  });

  it('lets hidden win over read-only and read-only over writable, whatever the order given', () => {
    const p = plan({
      writable: [`${WS}/vendor/patches`, `${WS}/secrets/out`, `${WS}/src`],
      readOnly: [`${WS}/vendor`, `${WS}/secrets/ro`],
      hidden: [{ path: `${WS}/secrets`, kind: 'dir' }],
    });
    const ops = mounts(bwrapArgs(p, HOST, SCRATCH, 3));
    const dests = ops.map((o) => o[o.length - 1]);
    expect(dests).not.to.include(`${WS}/vendor/patches`);
    expect(dests).not.to.include(`${WS}/secrets/out`);
    expect(dests).not.to.include(`${WS}/secrets/ro`);
    indexOfOp(ops, ['--ro-bind', `${WS}/vendor`, `${WS}/vendor`]);
    indexOfOp(ops, ['--bind', `${WS}/src`, `${WS}/src`]);
  });

  it('mounts shallow paths before deep ones whatever the order given', () => {
    const p = plan({ writable: [WS], readOnly: [`${WS}/a/b/c`, `${WS}/a`], hidden: [{ path: `${WS}/a/b`, kind: 'dir' }] });
    const ops = mounts(bwrapArgs(p, HOST, SCRATCH, 3)).filter((o) => o[0] !== '--remount-ro');
    const depths = ops.map((o) => o[o.length - 1]!.split('/').length);
    expect(depths).to.deep.equal([...depths].sort((a, b) => a - b));
  });

  it('gives TMPDIR and HOME their own writable binds inside the private /tmp', () => {
    const ops = mounts(bwrapArgs(plan(), HOST, SCRATCH, 3));
    expect(indexOfOp(ops, ['--bind', SCRATCH.tmp, SANDBOX_TMPDIR])).to.be.greaterThan(indexOfOp(ops, ['--tmpfs', '/tmp']));
    indexOfOp(ops, ['--bind', SCRATCH.home, SANDBOX_HOME]);
    expect(ops.map((o) => o[1])).not.to.include(SCRATCH.root);
  });

  it('leaves a hidden host directory alone when it is the workspace', () => {
    const p = plan({ workspace: '/root', cwd: '/root', writable: ['/root'] });
    const ops = mounts(bwrapArgs(p, HOST, SCRATCH, 3));
    expect(ops).not.to.deep.include(['--tmpfs', '/root']);
    expect(ops).not.to.deep.include(['--remount-ro', '/root']);
  });

  describe('refuses malformed plans', () => {
    const cases: Array<[string, Partial<SandboxPlan>, RegExp]> = [
      ['a relative workspace', { workspace: 'project' }, /not absolute/],
      ['the root as workspace', { workspace: '/', cwd: '/' }, /root directory/],
      ['a workspace over the sandbox scratch', { workspace: '/tmp', cwd: '/tmp', writable: [] }, /scratch/],
      ['a workspace in /proc', { workspace: '/proc/1', cwd: '/proc/1', writable: [] }, /inside \/proc/],
      ['an unnormalized path', { writable: [`${WS}/src/../..`] }, /not normalized/],
      ['a trailing slash', { writable: [`${WS}/src/`] }, /not normalized/],
      ['a writable path outside', { writable: ['/etc'] }, /outside the workspace/],
      ['a sibling sharing a prefix', { writable: [`${WS}-other`] }, /outside the workspace/],
      ['a cwd outside', { cwd: '/tmp' }, /outside the workspace/],
      ['a read-only path outside', { readOnly: ['/home/dev'] }, /outside the workspace/],
      ['a hidden workspace', { hidden: [{ path: WS, kind: 'dir' }] }, /cannot be hidden/],
      ['a NUL in a path', { writable: [`${WS}/a\0b`] }, /NUL/],
      ['a NUL in argv', { argv: ['node', 'a\0b'] }, /NUL/],
      ['an empty argv', { argv: [] }, /empty command/],
      ['an empty program', { argv: [''] }, /empty program/],
      ['a PATH dir with a colon', { pathDirs: ['/usr/bin:/evil'] }, /contains ':'/],
      ['an empty PATH', { pathDirs: [] }, /empty PATH/],
    ];
    for (const [name, fields, message] of cases) {
      it(name, () => {
        expect(() => bwrapArgs(plan(fields), HOST, SCRATCH, 3)).to.throw(SandboxPlanError, message);
      });
    }

    it('a scratch directory inside the workspace', () => {
      const scratch = { ...SCRATCH, tmp: `${WS}/tmp` };
      expect(() => bwrapArgs(plan(), HOST, scratch, 3)).to.throw(SandboxPlanError, /inside the workspace/);
    });

    it('a status descriptor that is one of stdio', () => {
      expect(() => bwrapArgs(plan(), HOST, SCRATCH, 2)).to.throw(SandboxPlanError, /spare descriptor/);
    });

    it('more arguments than bubblewrap accepts, with what to do instead', () => {
      const readOnly = Array.from({ length: BWRAP_MAX_ARGS / 3 }, (_, i) => `${WS}/f${i}`);
      expect(() => bwrapArgs(plan({ writable: [WS], readOnly }), HOST, SCRATCH, 3)).to.throw(SandboxPlanError, /at most 9000/);
    });
  });
});
