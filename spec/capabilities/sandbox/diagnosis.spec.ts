import { expect } from 'chai';
import {
  diagnose,
  missingBwrapReason,
  oneLine,
  parseBwrapVersion,
  unsupportedPlatformReason,
  type ProbeFacts,
} from '../../../capabilities/sandbox/diagnosis.js';

const NO_USERNS = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.";

function facts(fields: Partial<ProbeFacts>): ProbeFacts {
  return {
    platform: 'linux',
    bwrap: '/usr/bin/bwrap',
    version: 'bubblewrap 0.8.0',
    message: NO_USERNS,
    sysctl: {},
    container: null,
    ...fields,
  };
}

describe('sandbox diagnosis', () => {
  it('names the package to install when bubblewrap is missing', () => {
    const reason = missingBwrapReason(['/usr/bin/bwrap']);
    expect(reason).to.include('apt-get install bubblewrap');
    expect(reason).to.include('/usr/bin/bwrap');
  });

  it('refuses macOS naming the planned path, and says commands never run unsandboxed', () => {
    const reason = unsupportedPlatformReason('darwin');
    expect(reason).to.match(/not supported on macOS/);
    expect(reason).to.include('sandbox-exec');
    expect(reason).to.include('@anthropic-ai/sandbox-runtime');
    expect(reason).to.include('never run without the sandbox');
    expect(unsupportedPlatformReason('win32')).to.match(/not supported on win32.*Linux only/);
  });

  it('blames Ubuntu AppArmor when it restricts user namespaces', () => {
    const reason = diagnose(facts({ sysctl: { apparmorRestrictUnprivilegedUserns: '1' } }));
    expect(reason).to.include('kernel.apparmor_restrict_unprivileged_userns=0');
    expect(reason).to.include('bwrap said: bwrap: No permissions');
  });

  it('names the Debian sysctl when unprivileged user namespaces are off', () => {
    expect(diagnose(facts({ sysctl: { unprivilegedUsernsClone: '0' } }))).to.include(
      'sysctl kernel.unprivileged_userns_clone=1',
    );
  });

  it('names user.max_user_namespaces when it is 0', () => {
    expect(diagnose(facts({ sysctl: { maxUserNamespaces: '0' } }))).to.include('user.max_user_namespaces');
  });

  it("blames Docker's seccomp profile inside a container", () => {
    const reason = diagnose(
      facts({ container: 'docker', message: 'bwrap: Creating new namespace failed: Operation not permitted' }),
    );
    expect(reason).to.include('seccomp=unconfined');
    expect(reason).to.include('docker container');
  });

  it('says bubblewrap is too old before anything else', () => {
    const reason = diagnose(facts({ version: 'bubblewrap 0.6.1', message: 'bwrap: Unknown option --disable-userns' }));
    expect(reason).to.match(/bubblewrap 0\.6\.1 .* too old: run_command needs 0\.8\.0/);
  });

  it('does not blame namespaces for an unrelated failure', () => {
    const reason = diagnose(facts({ message: 'bwrap: Can\'t mkdir /x: Read-only file system', sysctl: { unprivilegedUsernsClone: '0' } }));
    expect(reason).to.match(/failed its self-test/);
    expect(reason).not.to.include('sysctl');
  });

  it('keeps a hostile message on one bounded line', () => {
    const reason = diagnose(facts({ message: `bwrap: x\n\x1b[31mred\x07${'y'.repeat(1000)}` }));
    expect(reason).not.to.match(/[\n\x1b\x07]/);
    expect(reason).to.include('\\x1b[31mred\\x07');
    expect(reason.length).to.be.lessThan(500);
    expect(oneLine('a\tb\nc')).to.equal('a b c');
  });

  it('reads bubblewrap versions', () => {
    expect(parseBwrapVersion('bubblewrap 0.8.0')).to.deep.equal([0, 8, 0]);
    expect(parseBwrapVersion('bubblewrap 0.11')).to.deep.equal([0, 11, 0]);
    expect(parseBwrapVersion(null)).to.equal(null);
  });
});
