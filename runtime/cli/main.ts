#!/usr/bin/env node
// The choragen CLI: registers one command per file and maps clipanion's usage
// errors to exit code 2 (DESIGN.md §6); help and those errors are rendered
// by help.ts.
import { Builtins } from 'clipanion';
import { ChoragenCli, colorFor } from './help.js';
import { version } from '../version.js';
import { termLine } from '../terminal/text.js';
// -- commands (one per file; keep this list sorted by area) --
// core
import { AgentCleanupCommand } from './agent-cleanup.js';
import { AgentResumeCommand } from './agent-resume.js';
import { AgentStartCommand } from './agent-start.js';
import { InitCommand } from './init.js';
// policy
import { CapabilitiesManifestCommand } from './capabilities-manifest.js';
import { PolicyCheckCommand } from './policy-check.js';
import { PolicyLintCommand } from './policy-lint.js';
// metrics & audit
import { AgentListCommand } from './agent-list.js';
import { AgentShowCommand } from './agent-show.js';
import { AuditVerifyCommand } from './audit-verify.js';
import { MetricsExportCommand } from './metrics-export.js';
import { MetricsQueryCommand } from './metrics-query.js';
import { MetricsSummaryCommand } from './metrics-summary.js';
// tasks & chains
import { ChainNewCommand } from './chain-new.js';
import { ChainStatusCommand } from './chain-status.js';
import { TaskAddCommand } from './task-add.js';

const cli = new ChoragenCli({ binaryLabel: 'choragen', binaryName: 'choragen', binaryVersion: version, enableColors: colorFor(process.stdout) });
cli.register(Builtins.HelpCommand);
cli.register(Builtins.VersionCommand);
// -- registrations --
// core
cli.register(InitCommand);
cli.register(AgentStartCommand);
cli.register(AgentResumeCommand);
cli.register(AgentCleanupCommand);
// policy
cli.register(CapabilitiesManifestCommand);
cli.register(PolicyCheckCommand);
cli.register(PolicyLintCommand);
// metrics & audit
cli.register(AgentListCommand);
cli.register(AgentShowCommand);
cli.register(MetricsQueryCommand);
cli.register(MetricsSummaryCommand);
cli.register(MetricsExportCommand);
cli.register(AuditVerifyCommand);
// tasks & chains
cli.register(ChainNewCommand);
cli.register(TaskAddCommand);
cli.register(ChainStatusCommand);

/**
 * A reader that stops early (`choragen agent:list | head -1`) closes the pipe:
 * what is left to print is dropped and the command ends as it would have, with
 * no stack trace. A run goes on to its end and records it; only its printing stops.
 */
function dropOutputOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/** Ends the process with `code` once stdout and stderr have taken everything written to them. */
function exitWhenFlushed(code: number): void {
  let open = 2;
  const flushed = () => {
    if (--open === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

let exitWhenDone = false;

export async function main(argv: string[]): Promise<number> {
  dropOutputOnClosedPipe(process.stdout);
  dropOutputOnClosedPipe(process.stderr);
  // `choragen` alone and `choragen help [COMMAND]` show help, like `--help`.
  if (argv.length === 0) argv = ['--help'];
  else if (argv[0] === 'help') argv = argv.length > 1 ? [...argv.slice(1, 2), '--help'] : ['--help'];
  let command;
  try {
    command = cli.process(argv);
  } catch (err) {
    // Unknown command, unknown flag, missing argument: what is wrong, the usage line, exit 2.
    process.stderr.write(cli.explainError(argv, err));
    return 2;
  }
  exitWhenDone = (command.constructor as { exitWhenDone?: boolean }).exitWhenDone === true;
  return cli.run(command, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (exitWhenDone) exitWhenFlushed(code);
  },
  (err) => { process.stderr.write(`choragen: internal error: ${termLine(err?.message ?? err)}\n`); process.exitCode = 1; },
);
