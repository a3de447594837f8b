// Run by lifecycle.spec.ts as a separate node process that was started with
// an extra inherited descriptor (fd 40, not close-on-exec), the way a terminal
// multiplexer or CI harness may start the broker. It runs a command in the
// sandbox that lists its descriptors and tries to write to fd 40, and prints
// what it inherited and the run as JSON. (Node marks low descriptors such as
// 5 close-on-exec at start-up, so the spec uses a higher one.)

import { inheritedFds } from '../../../capabilities/sandbox/host.js';
import { probeSandbox, runSandboxed } from '../../../capabilities/sandbox/index.js';
import { planFor, removeWorkspace, tempWorkspace } from './fixture.js';

const LIST_AND_WRITE = `
  const fs = require('fs'); const fds = {};
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { fds[fd] = fs.readlinkSync('/proc/self/fd/' + fd); } catch (e) { fds[fd] = e.code; }
  }
  let wrote = 'no';
  try { fs.writeSync(40, 'LEAKED-THROUGH-FD-40'); wrote = 'yes'; } catch (e) { wrote = e.code; }
  console.log(JSON.stringify({ fds, wrote }));`;

const verdict = await probeSandbox();
if (!verdict.ok) {
  console.error(verdict.reason);
  process.exit(2);
}
const ws = tempWorkspace();
try {
  const run = await runSandboxed(verdict.sandbox, planFor(ws, ['node', '-e', LIST_AND_WRITE]));
  process.stdout.write(JSON.stringify({ inherited: await inheritedFds(), run }));
} finally {
  removeWorkspace(ws);
}
