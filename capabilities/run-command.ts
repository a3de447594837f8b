// run_command: run one argv the policy allows, directly (never through a
// shell), inside the bubblewrap sandbox (docs/sandbox.md). The broker decides
// the argv (built-in guard, then the `commands` rules, then a human for
// `approve`), then, with the workspace to itself: plans the sandbox from the
// policy and the disk, lists the writable areas, runs, lists them again, and
// keeps only the changes the role may make.

import { Type } from '@sinclair/typebox';
import { quoteArg, quoteCommand } from '../policy/command-line.js';
import { SandboxPlanError, ToolFailure } from '../policy/errors.js';
import { MAX_COMMAND_TIMEOUT_S } from '../policy/schema.js';
import { defineCapability } from './capability.js';
import { checkChanges } from './commands/changes.js';
import { planCommand } from './commands/plan.js';
import { resolveCommand } from './commands/program.js';
import { formatResult, relativeToWorkspace } from './commands/result.js';
import { entryStats } from './fs/authority.js';
import { defaultPathDirs } from './sandbox/plan.js';
import { DEFAULT_SANDBOX_LIMITS, runSandboxed } from './sandbox/run.js';
import { snapshotPlan } from './sandbox/snapshot.js';

/** Entries the check after a run lists before giving up: well above what a test run creates. */
const AFTER_RUN_MAX_ENTRIES = 1_000_000;

export const runCommand = defineCapability({
  name: 'run_command',
  description:
    'Run one command that the policy allows, such as the project\'s tests, linter or type checker, and get its exit code, ' +
    'duration and the last part of its stdout and stderr. `argv` is the program and its arguments, run directly, never ' +
    'through a shell: ["npm", "test"], ["node", "--test", "test/"]. Shells, env, xargs and code given inline (node -e, ' +
    'python -c) are refused. The command runs in a sandbox: it sees the workspace, may write only where your role may ' +
    'change files (other changes are undone), has no network and only PATH, HOME and TMPDIR in its environment, and is ' +
    'killed with everything it started at its timeout.',
  input: Type.Object(
    {
      argv: Type.Array(Type.String({ maxLength: 4096 }), {
        minItems: 1,
        maxItems: 256,
        description: 'The program, then its arguments, each a separate string (no shell quoting, no pipes, no redirections)',
      }),
      cwd: Type.Optional(Type.String({ description: 'Working directory relative to the workspace root (default ".")' })),
      timeout_s: Type.Optional(
        Type.Integer({ minimum: 1, maximum: MAX_COMMAND_TIMEOUT_S, description: 'Seconds before it is killed (default and most: the policy\'s limit)' }),
      ),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['impl'],
  // What the command may change is checked like these tools' changes; reads are hidden by reads.deny.
  actions: ['read', 'create', 'modify', 'delete'],

  async run(ctx, input) {
    const { argv } = input;
    const commands = ctx.commands;
    commands.record({ command: quoteCommand(argv) });
    const root = await ctx.root();
    const ws = root.abs;
    const cwd = await ctx.authorize(input.cwd ?? '.', 'read');
    if (!cwd.exists || !entryStats(cwd)?.isDirectory()) throw new ToolFailure(`cwd ${cwd.rel} is not a directory of the workspace`);

    const pathDirs = defaultPathDirs(ws);
    const program = await resolveCommand(argv, { root, cwd, pathDirs, resolve: (rel) => ctx.resolve(rel) });
    const sandbox = await commands.authorize(argv, program.facts, cwd);
    if (program.found === null) {
      throw new ToolFailure(
        `${quoteArg(argv[0]!)} was not found: a bare name is looked up in the system's program directories, node's, then node_modules/.bin; a path is relative to cwd`,
      );
    }

    const notes: string[] = [];
    const timeoutS = Math.min(input.timeout_s ?? commands.timeoutLimitS, commands.timeoutLimitS);
    if (input.timeout_s !== undefined && input.timeout_s > commands.timeoutLimitS) {
      notes.push(`timeout_s ${input.timeout_s} is above the policy's limit (limits.command_timeout_s); ${timeoutS} s was used`);
    }
    const limits = {
      timeoutMs: timeoutS * 1000,
      // Both streams together fit one tool result.
      outputCapBytes: Math.max(1024, Math.floor((ctx.limits.outputBytes - 4096) / 2)),
    };

    const { run, report } = await commands.exclusive(async () => {
      const planned = await planCommand({ root, cwd, argv, pathDirs, writableBases: commands.writableBases, decide: commands.decide });
      if (!planned.ok) throw new ToolFailure(`the command was not run: ${planned.reason}`);
      const { plan, links } = planned.value;
      const before = await snapshotPlan(root, plan);
      if (!before.ok) throw new ToolFailure(`the command was not run, because its changes could not be checked afterwards: ${before.reason}`);
      let run;
      try {
        run = await runSandboxed(sandbox, plan, { limits, signal: ctx.signal });
      } catch (err) {
        if (err instanceof SandboxPlanError) throw new ToolFailure(`the command was not run: ${relativeToWorkspace(err.message, ws)}`);
        throw err;
      }
      const report = await checkChanges({
        root,
        decide: commands.decide,
        before: before.snapshot,
        snapshot: () => snapshotPlan(root, plan, AFTER_RUN_MAX_ENTRIES),
        links,
        resolve: (rel) => ctx.resolve(rel),
      });
      for (const r of report.refused) commands.refused(r.rel, r.decision);
      await commands.changed(report.stood.map((c) => c.rel));
      return { run, report };
    });
    commands.record({ exitCode: run.exitCode });
    if (run.setupError !== null) throw new ToolFailure(`the command could not start: ${relativeToWorkspace(run.setupError, ws)}`);
    return formatResult({
      argv,
      cwdRel: cwd.rel,
      workspace: ws,
      run,
      report,
      timeoutS,
      outputLimitBytes: DEFAULT_SANDBOX_LIMITS.outputLimitBytes,
      notes,
    });
  },
});
