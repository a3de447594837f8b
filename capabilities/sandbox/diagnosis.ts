// Why the sandbox cannot run here, as one line that says what to do. Pure:
// the probe gathers the facts, this decides what they mean.

export interface ProbeFacts {
  /** process.platform */
  platform: string;
  /** The bwrap that was tried, or null when none was found. */
  bwrap: string | null;
  /** `bwrap --version` output ("bubblewrap 0.8.0"), or null when it could not be read. */
  version: string | null;
  /** What went wrong: bubblewrap's own message ("bwrap: …") or the self-test's finding. */
  message: string;
  /** /proc/sys values, where the files exist. */
  sysctl: {
    apparmorRestrictUnprivilegedUserns?: string;
    unprivilegedUsernsClone?: string;
    maxUserNamespaces?: string;
  };
  /** 'docker', 'podman' or 'container' when the probe runs inside one. */
  container: string | null;
}

const NEVER_UNSANDBOXED = 'commands are never run without the sandbox';

/** The minimum bubblewrap: 0.8.0 brought --disable-userns. */
export const MIN_BWRAP_VERSION: readonly [number, number, number] = [0, 8, 0];

export function unsupportedPlatformReason(platform: string): string {
  if (platform === 'darwin') {
    return (
      'run_command is not supported on macOS yet: choragen sandboxes commands with bubblewrap (Linux); ' +
      `a macOS sandbox (sandbox-exec, or @anthropic-ai/sandbox-runtime) is planned, and ${NEVER_UNSANDBOXED}`
    );
  }
  return `run_command is not supported on ${platform}: choragen sandboxes commands with bubblewrap (Linux only), and ${NEVER_UNSANDBOXED}`;
}

export function missingBwrapReason(looked: readonly string[]): string {
  return (
    `run_command needs bubblewrap, which is not installed (looked for ${looked.join(', ')}): ` +
    'install it with `apt-get install bubblewrap` (Debian, Ubuntu) or `dnf install bubblewrap` (Fedora)'
  );
}

/** [major, minor, patch] from "bubblewrap 0.8.0", or null. */
export function parseBwrapVersion(text: string | null): [number, number, number] | null {
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text ?? '');
  return match === null ? null : [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

function olderThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  return false;
}

/** One line, control characters made visible, bounded: it goes to a terminal and a model. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' || c === '\t' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  const trimmed = flat.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed;
}

const NAMESPACE_TROUBLE = /namespace|uid map|gid map|unshare|clone|No permissions|Operation not permitted|max_user_namespaces/i;

/** The reason the probe failed, with the fix. */
export function diagnose(facts: ProbeFacts): string {
  const said = `bwrap said: ${oneLine(facts.message)}`;
  const found = parseBwrapVersion(facts.version);
  if (found !== null && olderThan(found, MIN_BWRAP_VERSION)) {
    return (
      `bubblewrap ${found.join('.')} at ${facts.bwrap} is too old: run_command needs ${MIN_BWRAP_VERSION.join('.')} ` +
      'or newer (for --disable-userns); upgrade the bubblewrap package'
    );
  }
  if (NAMESPACE_TROUBLE.test(facts.message)) {
    const blocked = 'bubblewrap cannot create the user namespace it needs';
    if (facts.sysctl.apparmorRestrictUnprivilegedUserns === '1') {
      return (
        `${blocked}: AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, ` +
        'the Ubuntu 24.04 default); give bwrap an AppArmor profile that allows userns, or run ' +
        `\`sysctl kernel.apparmor_restrict_unprivileged_userns=0\` (${said})`
      );
    }
    if (facts.sysctl.unprivilegedUsernsClone === '0') {
      return `${blocked}: they are disabled (kernel.unprivileged_userns_clone=0); run \`sysctl kernel.unprivileged_userns_clone=1\` (${said})`;
    }
    if (facts.sysctl.maxUserNamespaces === '0') {
      return `${blocked}: user.max_user_namespaces is 0; run \`sysctl user.max_user_namespaces=15000\` (${said})`;
    }
    if (facts.container !== null) {
      return (
        `${blocked}: this ${facts.container} container forbids it (Docker's default seccomp profile blocks ` +
        'user namespaces); start the container with `--security-opt seccomp=unconfined` (or a seccomp profile that ' +
        'allows unshare and clone with namespace flags) and, where AppArmor applies, `--security-opt apparmor=unconfined` ' +
        `(${said})`
      );
    }
    return `${blocked}: enable unprivileged user namespaces for this user (${said})`;
  }
  return `bubblewrap at ${facts.bwrap} failed its self-test, so run_command is off (${said})`;
}
