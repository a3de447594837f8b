// The offline demo (`npm run demo`): copies examples/workspace to a temp dir,
// makes it a git repository, and runs a control session on the bundled
// scripted model. The control session fans out two impl sessions in parallel;
// one of them tries to read .env and to write outside the workspace, and the
// runtime refuses both; it asks for a shell (refused too), then runs the
// project's tests with `node --test` in the bubblewrap sandbox. Without
// bubblewrap the demo says so and leaves that step out. Then it shows the
// session tree, the refusals, the commands and the metrics summary, all
// through the real CLI. No API key, no network.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../runtime/paths.js';
import { probeSandbox } from '../capabilities/sandbox/index.js';
import { termText } from '../runtime/terminal/text.js';
import { CLI as cli } from '../spec/support/cli.js';
const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);

function choragen(args: string[], opts: { capture?: boolean } = {}): { status: number; stdout: string } {
  const env = { ...process.env };
  delete env.ANTHROPIC_API_KEY; // the demo never touches the real API
  const r = spawnSync(process.execPath, [cli, ...args], {
    env,
    stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '' };
}

async function gitInit(dir: string): Promise<void> {
  const git = await import('isomorphic-git');
  await git.init({ fs, dir, defaultBranch: 'main' });
  for (const file of ['README.md', 'package.json', 'tsconfig.json', '.gitignore', 'choragen.governance.yaml', 'src/greet.js', 'src/math.js', 'test/greet.test.js']) {
    await git.add({ fs, dir, filepath: file });
  }
  await git.commit({ fs, dir, message: 'demo project', author: { name: 'demo', email: 'demo@localhost' } });
}

async function main(): Promise<number> {
  const ws = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'choragen-demo-')));
  cpSync(path.join(packageRoot, 'examples', 'workspace'), ws, { recursive: true });
  await gitInit(ws);
  const script = await demoScript(ws);

  console.log(bold(`\n▶ choragen demo — workspace ${ws}`));
  console.log('  A control session plans and delegates two tasks to impl sessions that run in parallel,');
  console.log('  on the bundled scripted model (no API key, no network).\n');
  const run = choragen(['agent:start', '--role', 'control', '--provider', 'script', '--script', script,
    '--message', 'Add a farewell function to the greeter and a test for the math helpers.', '--workspace', ws]);

  console.log(bold('\n▶ How to read the lines above'));
  console.log('  ▶ and ■ lines: a session starts and ends (a child names the session that started it).');
  console.log('  ✗ lines: a tool call the runtime refused, with the reason the model was given. Here the math');
  console.log('    session tried to read .env (refused by the policy rule reads.deny[0]) and to write');
  console.log('    ../outside.txt (refused by rule "path": a path that leaves the workspace is refused before');
  console.log('    any policy rule is consulted).');
  console.log('  "refs/choragen/sessions/<id> -> <commit>" lines: each session\'s changes are recorded as a git');
  console.log('    commit on a ref of its own, outside your branches, so you can review exactly what one session');
  console.log('    did (git show refs/choragen/sessions/<id>); `choragen agent:cleanup` removes old ones.');

  const rootId = readdirSync(path.join(ws, '.choragen', 'audit'))[0]?.replace(/\.jsonl$/, '');
  console.log(bold('\n▶ The session tree (choragen agent:show)'));
  choragen(['agent:show', rootId, '--workspace', ws]);

  console.log(bold('\n▶ What the runtime refused (choragen metrics:query)'));
  choragen(['metrics:query', "SELECT s.role, t.tool, t.decision, t.rule, t.path FROM tool_calls t JOIN sessions s USING (session_id) WHERE t.decision <> 'allow' ORDER BY t.started_at", '--workspace', ws]);

  console.log(bold('\n▶ The commands the impl session asked for (choragen metrics:query)'));
  choragen(['metrics:query', "SELECT t.command, t.decision, t.rule, t.exit_code FROM tool_calls t WHERE t.tool = 'run_command' ORDER BY t.started_at", '--workspace', ws]);

  console.log(bold('\n▶ Metrics summary (choragen metrics:summary)'));
  choragen(['metrics:summary', '--workspace', ws]);

  console.log(bold('\n▶ The audit log verifies (choragen audit:verify)'));
  choragen(['audit:verify', '--workspace', ws]);

  console.log(bold('\n▶ What the impl sessions wrote'));
  for (const file of ['src/greet.js', 'test/math.test.js']) {
    const p = path.join(ws, file);
    // Written by the (scripted) model: shown through the terminal sanitizer.
    if (fs.existsSync(p)) console.log(`--- ${file}\n${termText(readFileSync(p, 'utf8').trimEnd())}`);
  }
  console.log(`\nTry it yourself: node ${path.relative(process.cwd(), cli) || cli} agent:list --workspace ${ws}`);
  return run.status;
}

/**
 * The bundled script; without a working sandbox, the same script without the
 * turns that run commands (they would only be refused), and a line saying why.
 */
async function demoScript(ws: string): Promise<string> {
  const bundled = path.join(packageRoot, 'examples', 'demo-script.json');
  const verdict = await probeSandbox();
  if (verdict.ok) return bundled;
  console.log(bold(`\n▶ No command sandbox here: ${verdict.reason}`));
  console.log('  The impl session will not run the tests; everything else is shown as usual.');
  const script = JSON.parse(readFileSync(bundled, 'utf8')) as { sessions: { turns: { content: { type: string; name?: string }[] }[] }[] };
  for (const session of script.sessions) {
    session.turns = session.turns.filter((turn) => !turn.content.some((block) => block.type === 'tool_use' && block.name === 'run_command'));
  }
  const copy = path.join(path.dirname(ws), `${path.basename(ws)}-script.json`);
  writeFileSync(copy, JSON.stringify(script));
  return copy;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(`demo failed: ${err?.message ?? err}`); process.exitCode = 1; });
