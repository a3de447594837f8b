// A bubblewrap installation that passed the probe. The runner takes only this,
// so a command cannot be started before the probe said the sandbox works, and
// there is no code path that runs a command without bubblewrap.

const issued = Symbol('probed sandbox');

export class Sandbox {
  /** Use probeSandbox(); the constructor refuses any other caller. */
  constructor(
    key: symbol,
    /** Absolute path of the bwrap binary the probe ran. */
    readonly bwrap: string,
    /** `bubblewrap 0.8.0`, as `bwrap --version` printed it. */
    readonly version: string,
  ) {
    if (key !== issued) throw new TypeError('a Sandbox comes from probeSandbox()');
  }
}

/** For probe.ts only: the sandbox it has just seen working. */
export function provenSandbox(bwrap: string, version: string): Sandbox {
  return new Sandbox(issued, bwrap, version);
}
