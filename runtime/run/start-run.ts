// What agent:start and agent:resume do once their flags are parsed: prepare,
// run the tree with a progress view, handle Ctrl-C, and map the outcome to
// an exit code.
import type { BaseContext } from 'clipanion';
import type { Role } from '../../policy/types.js';
import { Broker, type RootRequest } from '../broker/broker.js';
import { ExitCode, UsageError } from '../../policy/errors.js';
import { ProgressView } from './progress-view.js';
import { termText } from '../terminal/text.js';
import { EarlyPool } from './early-pool.js';
import { preflightWarnings } from './preflight.js';
import { type RunSettings, prepareRun } from './setup.js';
import type { SavedSession } from '../sessions/transcripts.js';

export interface StartRequest {
  role: string;
  message?: string;
  taskId?: string;
  chainId?: string;
  resume?: SavedSession;
  dryRun?: boolean;
  json?: boolean;
  settings: RunSettings;
}

const EXIT_BY_STATUS = { completed: ExitCode.completed, failed: ExitCode.failed, budget_exceeded: ExitCode.budget, interrupted: ExitCode.interrupted } as const;

export async function startRun(req: StartRequest, context: BaseContext): Promise<number> {
  const role: Role = req.role;
  const message = req.message ?? defaultMessage(role, req.taskId, req.chainId);
  if (!message && !req.resume) throw new UsageError('say what the session should do: --message "…" (or give --task / --chain)');
  const early = req.dryRun ? null : EarlyPool.start(req.settings.workerMemoryMb);
  let prepared: Awaited<ReturnType<typeof prepareRun>>;
  let warnings: string[];
  try {
    // The role is checked against the policy here: an unknown one lists the roles it defines.
    prepared = await prepareRun(req.settings, role, { provider: !req.dryRun });
    warnings = await preflightWarnings(prepared.options);
  } catch (err) {
    await early?.discard();
    throw err;
  }
  const { options } = prepared;

  if (req.dryRun || !early) {
    const { dryRunPlan, dryRunText } = await import('./dry-run.js');
    const plan = dryRunPlan(options, role, [...warnings, ...(options.notices ?? [])]);
    context.stdout.write(req.json ? JSON.stringify(plan) + '\n' : dryRunText(plan));
    return ExitCode.completed;
  }

  const mode = req.json ? 'json' : process.stderr.isTTY ? 'live' : 'lines';
  const view = new ProgressView(mode, context.stderr, context.stdout);
  for (const w of warnings) view.print(`choragen: warning: ${w}`);
  const broker = await Broker.create({ ...options, ...(await early.handOver(options)), onEvent: view.onEvent, onProgress: view.onProgress, promptHost: view });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      view.print(`choragen: ${signal}: stopping all sessions (press Ctrl-C again to quit at once)`);
      broker.interrupt(`interrupted by ${signal}`);
    } else {
      // The audit log is written a whole line at a time, so it verifies as is.
      process.exit(ExitCode.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const rootReq: RootRequest = { role, message: message ?? '', taskId: req.taskId, chainId: req.chainId, resume: req.resume };
    const result = await broker.run(rootReq);
    // An endpoint that refuses the key stops the whole tree: however far the run got, that is a configuration error.
    const exitCode = result.configError ? ExitCode.usage : EXIT_BY_STATUS[result.status];
    view.freeze();
    if (!req.json && result.finalText) context.stdout.write(termText(result.finalText.trimEnd()) + '\n');
    view.finish({ ...result, exitCode });
    return exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await broker.close();
  }
}

function defaultMessage(role: Role, taskId?: string, chainId?: string): string | undefined {
  if (taskId) return `Work on task ${taskId}.`;
  if (chainId && role === 'control') return `Drive chain ${chainId}: delegate its open tasks to impl sessions, review their work, and approve or rework each task.`;
  return undefined;
}
