// What run_command refuses before the policy's `commands` rules are asked,
// whatever they allow: a command that is really a shell, a wrapper that runs
// another command from its arguments, an interpreter given code inline, or a
// program path that plays tricks. The allowlist names programs; these are the
// ways to turn an allowed program into "run anything". Pure: the caller
// resolves argv[0] on disk and passes what it found (ProgramFacts).
//
// This is a backstop, not the boundary: whatever runs, runs in the sandbox.

import { quoteArg } from './command-line.js';
import type { Decision } from './types.js';

export const GUARD_RULES = {
  argv: 'builtin.argv',
  shell: 'builtin.shell',
  wrapper: 'builtin.wrapper',
  inlineCode: 'builtin.inline-code',
  programPath: 'builtin.program-path',
} as const;

/** What the caller found when it resolved argv[0] (see capabilities/commands/program.ts). */
export interface ProgramFacts {
  /**
   * argv[0] is a path (holds `/`) that resolves outside the workspace and
   * outside the sandbox's PATH directories, or argv[0] is found in the
   * workspace through a symlink that leads out of it.
   */
  outsideAllowedDirs?: boolean;
  /** The file argv[0] runs, every symlink followed, or null when none was found. */
  realPath?: string | null;
  /** The same facts about the command a package runner runs (`tsc` of `npx tsc`; see runnerCommand). */
  runs?: ProgramFacts;
}

/** Shells: a command line in an argument is a second, unlisted command. */
const SHELLS = new Set([
  'sh', 'bash', 'rbash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'pdksh', 'oksh', 'loksh', 'csh', 'tcsh', 'fish', 'yash',
  'elvish', 'nu', 'nushell', 'xonsh', 'pwsh', 'powershell', 'rc', 'es', 'scsh', 'ion', 'murex', 'osh', 'oil',
]);

/** Programs whose job is to run another program named in their arguments (or from a file such as .env). */
const WRAPPERS = new Set([
  'env', 'xargs', 'nohup', 'nice', 'ionice', 'timeout', 'stdbuf', 'setsid', 'chroot', 'sudo', 'su', 'doas', 'runuser',
  'pkexec', 'unshare', 'nsenter', 'setpriv', 'capsh', 'strace', 'ltrace', 'gdb', 'valgrind', 'time', 'watch', 'flock',
  'taskset', 'chrt', 'numactl', 'script', 'expect', 'parallel', 'bwrap', 'firejail', 'systemd-run', 'tmux', 'screen',
  'dtach', 'entr', 'cross-env', 'dotenv', 'env-cmd', 'concurrently', 'npm-run-all', 'run-s', 'run-p', 'nodemon',
  'exec', 'command', 'builtin', 'eval', 'sshpass', 'ssh', 'rsh', 'watchexec',
]);

/** Interpreters that always take their program inline (awk 'BEGIN { system(…) }'). */
const INLINE_ALWAYS = new Set(['awk', 'gawk', 'mawk', 'nawk', 'busybox-awk']);

/**
 * How an interpreter is given code inline. `flags`: options that take code;
 * `cluster`: single-letter options that take code inside a cluster (`-pe`,
 * `-Bc`), with `stops`: letters after which the rest of the cluster is a value.
 */
interface InterpreterSpec {
  flags: readonly string[];
  cluster?: { code: string; stops: string };
  /** Options whose value is code when it is a data: or http(s): URL (node's loaders). */
  urlFlags?: readonly string[];
  /** The first positional ends the interpreter's own options (a script name). */
  stopAtPositional: boolean;
  /** A first positional that is itself a code-taking subcommand (`deno eval`). */
  codeSubcommands?: readonly string[];
}

const JS: InterpreterSpec = {
  flags: ['-e', '--eval', '-p', '--print'],
  cluster: { code: 'ep', stops: 'r' },
  urlFlags: ['-r', '--require', '--import', '--loader', '--experimental-loader'],
  // node --test takes test files as positionals and options after them.
  stopAtPositional: false,
};

const INTERPRETERS: Record<string, InterpreterSpec> = {
  node: JS,
  nodejs: JS,
  bun: JS,
  'ts-node': JS,
  tsx: JS,
  'babel-node': JS,
  deno: { ...JS, codeSubcommands: ['eval', 'repl'] },
  coffee: { flags: ['-e', '--eval', '-p', '--print'], stopAtPositional: true },
  python: { flags: ['-c'], cluster: { code: 'c', stops: 'WXm' }, stopAtPositional: true },
  pypy: { flags: ['-c'], cluster: { code: 'c', stops: 'WXm' }, stopAtPositional: true },
  perl: { flags: ['-e', '-E'], cluster: { code: 'eE', stops: 'MmIxdDCV' }, stopAtPositional: true },
  ruby: { flags: ['-e'], cluster: { code: 'e', stops: 'IrCEFiKTWx0' }, stopAtPositional: true },
  php: { flags: ['-r', '--run', '-R', '--process-code', '-B', '--process-begin', '-E', '--process-end'], stopAtPositional: true },
  lua: { flags: ['-e'], cluster: { code: 'e', stops: 'l' }, stopAtPositional: true },
  luajit: { flags: ['-e'], cluster: { code: 'e', stops: 'lbjO' }, stopAtPositional: true },
  rscript: { flags: ['-e'], stopAtPositional: true },
  r: { flags: ['-e'], stopAtPositional: false },
  julia: { flags: ['-e', '--eval', '-E', '--print'], stopAtPositional: true },
  elixir: { flags: ['-e', '--eval'], stopAtPositional: true },
  erl: { flags: ['-eval', '-s', '-run'], stopAtPositional: false },
  racket: { flags: ['-e', '--eval'], stopAtPositional: true },
  groovy: { flags: ['-e'], stopAtPositional: true },
  osascript: { flags: ['-e'], stopAtPositional: true },
};

/** Package runners: they run the command in their arguments, which is checked as a command of its own. */
const RUNNERS = new Set(['npx', 'bunx', 'pnpx', 'npm', 'pnpm', 'yarn']);
/** Their options that run a shell or inline code. */
const RUNNER_CODE_OPTIONS = ['-c', '--call', '--node-options', '--script-shell', '--shell'];
/** npx options that take a separate value. */
const RUNNER_VALUE_OPTIONS = new Set(['-p', '--package', '--prefix', '--cache', '--userconfig', '--workspace', '-w']);
const RUNNER_EXEC_SUBCOMMANDS = new Set(['exec', 'x', 'dlx']);

/** `python3.11` -> `python`, `/usr/bin/ksh93` -> `ksh`, `Bash` -> `bash`: the family a program name belongs to. */
export function programFamily(program: string): string {
  const base = program.slice(program.lastIndexOf('/') + 1).toLowerCase();
  const stripped = base.replace(/[-_.]?[0-9][0-9.]*$/, '');
  return stripped === '' ? base : stripped;
}

function deny(rule: string, reason: string): Decision {
  return { decision: 'deny', rule, reason };
}

/** A refusal of argv, or null when the guard has nothing against it (the policy decides then). */
export function guardCommand(argv: readonly string[], program: ProgramFacts = {}): Decision | null {
  if (argv.length === 0 || argv[0] === '') return deny(GUARD_RULES.argv, 'the command is empty: argv[0] must name a program');
  const nul = argv.findIndex((a) => a.includes('\0'));
  if (nul >= 0) return deny(GUARD_RULES.argv, `argv[${nul}] contains a NUL byte`);

  const argv0 = argv[0]!;
  if (argv0.includes('/')) {
    if (argv0.split('/').includes('..')) {
      return deny(GUARD_RULES.programPath, `the program path ${quoteArg(argv0)} contains "..": name the program, or give its path inside the workspace without ".."`);
    }
    if (program.outsideAllowedDirs) {
      return deny(
        GUARD_RULES.programPath,
        `the program path ${quoteArg(argv0)} is outside the workspace and the system program directories: name the program (it is looked up on the sandbox's PATH)`,
      );
    }
  } else if (program.outsideAllowedDirs) {
    return deny(
      GUARD_RULES.programPath,
      `${quoteArg(argv0)} is found in the workspace (node_modules/.bin) through a symlink that leads out of it: install the program there, or allow the system's one`,
    );
  }
  const names = [argv0];
  if (program.realPath) names.push(program.realPath);
  for (const name of names) {
    const refusal = guardByName(programFamily(name), argv, name === argv0 ? null : name, program.runs ?? {});
    if (refusal) return refusal;
  }
  return null;
}

function guardByName(family: string, argv: readonly string[], realPath: string | null, runs: ProgramFacts): Decision | null {
  const shown = quoteArg(argv[0]!);
  const via = realPath !== null ? ` (it runs ${quoteArg(realPath)})` : '';
  if (SHELLS.has(family)) {
    return deny(GUARD_RULES.shell, `${shown}${via} is a shell: run_command runs one program directly, never a shell; give the program and its arguments as argv`);
  }
  if (WRAPPERS.has(family)) {
    return deny(GUARD_RULES.wrapper, `${shown}${via} runs other commands from its arguments; give the program itself as argv[0]`);
  }
  if (INLINE_ALWAYS.has(family)) {
    return deny(GUARD_RULES.inlineCode, `${shown}${via} runs a program given inline; run a program file instead`);
  }
  if (family === 'git') {
    // Configuration given on the command line can define aliases, hooks, pagers and editors that run shell commands.
    const option = argv.slice(1).find((a) => a === '-c' || a.startsWith('--config-env') || a.startsWith('--exec-path'));
    if (option) return inlineCode(shown, option);
    return null;
  }
  if (family === 'make' || family === 'gmake') {
    // `--eval` reads makefile text, recipes (shell lines) included, from the argument.
    const option = argv.slice(1).find((a) => a === '-E' || a === '--eval' || a.startsWith('--eval='));
    if (option) return inlineCode(shown, option);
    return null;
  }
  if (family === 'find') {
    const exec = argv.find((a) => ['-exec', '-execdir', '-ok', '-okdir'].includes(a));
    if (exec) return deny(GUARD_RULES.wrapper, `find ${exec} runs other commands; give the program itself as argv[0]`);
    return null;
  }
  if (family === 'busybox') {
    if (argv.length < 2) return null;
    return guardCommand(argv.slice(1));
  }
  if (RUNNERS.has(family)) return guardRunner(family, argv, runs);
  const spec = INTERPRETERS[family];
  return spec ? guardInterpreter(spec, argv, shown) : null;
}

function inlineCode(shown: string, flag: string): Decision {
  return deny(
    GUARD_RULES.inlineCode,
    `${shown} ${quoteArg(flag)} runs code given on the command line; run_command runs files (a test, a script) so that what runs can be read first`,
  );
}

function guardInterpreter(spec: InterpreterSpec, argv: readonly string[], shown: string): Decision | null {
  let positional = 0;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') {
      if (positional === 0 && spec.codeSubcommands?.includes(arg)) return inlineCode(shown, arg);
      positional++;
      if (spec.stopAtPositional) break;
      continue;
    }
    const [name, attached] = arg.startsWith('--') ? splitOnce(arg, '=') : [arg, null];
    if (spec.flags.includes(name)) return inlineCode(shown, name);
    // `-eCODE`: a short code flag with its value attached.
    if (!spec.cluster && spec.flags.some((f) => f.length === 2 && arg.startsWith(f))) return inlineCode(shown, arg.slice(0, 2));
    if (spec.urlFlags?.includes(name)) {
      const value = attached ?? (name.startsWith('--') || arg.length === 2 ? argv[i + 1] : arg.slice(2));
      if (value !== undefined && /^\s*(data|https?|blob):/i.test(value)) return inlineCode(shown, `${name} ${value.slice(0, 40)}`);
      if (attached === null && arg.length === 2) i++;
      continue;
    }
    if (spec.cluster && !arg.startsWith('--')) {
      for (const letter of arg.slice(1)) {
        if (spec.cluster.code.includes(letter)) return inlineCode(shown, arg);
        if (spec.cluster.stops.includes(letter)) break;
      }
    }
  }
  return null;
}

/**
 * npx / npm exec / pnpm dlx …: refuse options that run a shell or inline code,
 * then check the command they run as a command of its own, on what the caller
 * found of its program (`runs`): a `node_modules/.bin/tsc` that is a link to a
 * shell is a shell. npm, pnpm and yarn read their options anywhere before
 * `--`; npx only before the command it runs.
 */
function guardRunner(family: string, argv: readonly string[], runs: ProgramFacts): Decision | null {
  const shown = quoteArg(argv[0]!);
  for (const arg of argv.slice(1)) {
    if (arg === '--' || (isStandaloneRunner(family) && !arg.startsWith('-'))) break;
    const [name] = splitOnce(arg, '=');
    if (RUNNER_CODE_OPTIONS.includes(name)) return inlineCode(shown, name);
  }
  const inner = innerCommand(family, argv);
  return inner !== null ? guardCommand(inner, runs) : null;
}

function isStandaloneRunner(family: string): boolean {
  return family === 'npx' || family === 'bunx' || family === 'pnpx';
}

function innerCommand(family: string, argv: readonly string[]): string[] | null {
  let i = 1;
  if (!isStandaloneRunner(family)) {
    // Only the exec subcommands run a command named in the arguments.
    while (i < argv.length && argv[i]!.startsWith('-')) i++;
    if (i >= argv.length || !RUNNER_EXEC_SUBCOMMANDS.has(argv[i]!)) return null;
    i++;
  }
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break;
    if (RUNNER_VALUE_OPTIONS.has(arg)) i++;
  }
  const inner = argv.slice(i);
  return inner.length > 0 ? inner : null;
}

/**
 * The command a package runner in argv runs (`["tsc", "--noEmit"]` of
 * `npx tsc --noEmit`), or null: for the caller to find its program, as it
 * found argv[0]'s. `realPath` is the file argv[0] runs, when it was found.
 */
export function runnerCommand(argv: readonly string[], realPath: string | null = null): string[] | null {
  if (argv.length === 0) return null;
  const family = [argv[0]!, ...(realPath ? [realPath] : [])].map(programFamily).find((f) => RUNNERS.has(f));
  return family === undefined ? null : innerCommand(family, argv);
}

function splitOnce(text: string, sep: string): [string, string | null] {
  const at = text.indexOf(sep);
  return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
}
