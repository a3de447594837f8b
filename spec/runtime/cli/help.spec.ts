// Help and command-line errors (issue 19 item 5): named option values, usage
// lines with the required options, colour only on a terminal and never with
// NO_COLOR, the nearest commands for a typo, the missing option named.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { editDistance, nearest } from '../../../runtime/cli/help.js';
import { CLI, cleanEnv, runCli } from '../../support/cli.js';

const COMMANDS = ['init', 'agent:start', 'agent:resume', 'agent:cleanup', 'agent:list', 'agent:show', 'capabilities:manifest',
  'policy:check', 'policy:lint', 'metrics:query', 'metrics:summary', 'metrics:export', 'audit:verify', 'chain:new', 'task:add', 'chain:status'];

/** What decides colour besides the terminal: Node reads CI (a bare CI means no colour), FORCE_COLOR and NODE_DISABLE_COLORS. */
const COLOUR_NEUTRAL = { TERM: 'xterm-256color', CI: undefined, FORCE_COLOR: undefined, NODE_DISABLE_COLORS: undefined, NO_COLOR: undefined, TMUX: undefined };

/** Runs the CLI on a pseudo-terminal (util-linux `script`), where stdout is a tty. */
function onTerminal(args: string[], env: Record<string, string | undefined> = {}): string {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: cleanEnv({ ...COLOUR_NEUTRAL, ...env }), encoding: 'utf8' });
  return r.stdout;
}

describe('help and command-line errors', () => {
  it('lists every command with its required options, and names every option value (no #0)', async () => {
    const r = await runCli(['--help']);
    expect(r.code).to.equal(0);
    for (const c of COMMANDS) expect(r.stdout, c).to.include(c);
    expect(r.stdout).to.include('agent:start --role <role> [options]');
    // A rest argument is named, as given to Option.Rest: clipanion alone prints `...`.
    expect(r.stdout).to.include('policy:check --role <role> [options] [PATH | -- ARGV...]');
    expect(r.stdout).to.include('task:add [options] <CHAIN-ID> <TITLE>...');
    expect(r.stdout).to.not.include('#0');
    const helps = await Promise.all(COMMANDS.map((c) => runCli([c, '--help'])));
    for (const [i, c] of COMMANDS.entries()) {
      const help = helps[i]!;
      expect(help.code, c).to.equal(0);
      expect(help.stdout, c).to.not.include('#0');
      expect(help.stdout, c).to.match(new RegExp(`Usage: choragen ${c}\\b`));
    }
    const start = (await runCli(['agent:start', '--help'])).stdout;
    expect(start).to.match(/--max-cost <usd>\s+Cost budget/).and.to.match(/--role <role>\s+\(required\)/).and.to.include('-m, --message <text>');
  });

  it('writes no colour codes when stdout is not a terminal; on a terminal only without NO_COLOR', async () => {
    const piped = await runCli(['agent:start', '--help']);
    expect(piped.stdout).to.not.include('\x1b[');
    expect(onTerminal(['agent:start', '--help'])).to.include('\x1b[1m');
    const noColor = onTerminal(['agent:start', '--help'], { NO_COLOR: '1' });
    expect(noColor).to.include('Usage: choragen agent:start').and.to.not.include('\x1b[');
  });

  it('a mistyped command gets the nearest real ones (exit 2)', async () => {
    const r = await runCli(['agent:strat', '--role', 'impl']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/unknown command "agent:strat"\nDid you mean agent:start\?/);
    expect(nearest('metrics:sumary', COMMANDS)[0]).to.equal('metrics:summary');
    expect(nearest('agent', COMMANDS)).to.have.members(['agent:start', 'agent:resume', 'agent:cleanup', 'agent:list', 'agent:show']);
    expect(nearest('xyzzy', COMMANDS)).to.deep.equal([]);
    expect(editDistance('strat', 'start')).to.equal(1);
  });

  it('a missing required option, a missing value, an unknown option and a missing argument are each named (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['agent:start', '-m', 'hi'], /^choragen: agent:start needs --role <role>\nUsage: choragen agent:start --role <role> \[options\]\n/],
      [['agent:start', '--role'], /--role needs a value: --role <role>/],
      [['agent:start', '--role', 'impl', '--max-cost', '-1'], /--max-cost needs a value: --max-cost <usd> \(a value starting with "-" is read as an option: write --max-cost=-1\)/],
      [['agent:start', '--role', 'impl', '--mesage', 'hi'], /unknown option --mesage for agent:start \(did you mean --message\?\)/],
      [['policy:check', '--role', 'impl', '--action', 'read'], /policy:check needs PATH/],
      // A path without --action is not checked as a program of that name.
      [['policy:check', '--role', 'impl', 'src/index.ts'], /policy:check needs --action \(create, modify, delete, move, read\) to check the path "src\/index\.ts"; to check a command, give --command "…" or put it after --/],
      [['agent:show', 'a', 'b'], /unexpected argument "b"/],
      // Only what is missing is named: the chain id was given, an option's value is not an argument.
      [['task:add', '--status', 'todo', 'CHAIN-001-add-login'], /^choragen: task:add needs TITLE\n/],
      [['task:add', '--status', 'todo'], /^choragen: task:add needs CHAIN-ID and TITLE\n/],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(expected).and.to.not.include('Command not found');
    }
  });

  it('`choragen` alone and `choragen help COMMAND` show help', async () => {
    expect((await runCli([])).stdout).to.include('Usage: choragen <command> [options]');
    expect((await runCli(['help', 'agent:show'])).stdout).to.include('Usage: choragen agent:show [options] <ID>');
  });
});
