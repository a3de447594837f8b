// What agent:start and agent:resume do once their flags are parsed: prepare,
// run the tree with a progress view, handle Ctrl-C, and map the outcome to
// an exit code.
import type { BaseContext } from 'clipanion';
import type { Role } from '../../policy/types.js';
import { Broker, type RootRequest } from '../broker/broker.js';
import { ExitCode, UsageError } from '../../policy/errors.js';
import { ProgressView } from './progress-view.js';
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
  // The role is checked against the policy here: an unknown one lists the roles it defines.
  const { options } = await prepareRun(req.settings, role);

  if (req.dryRun) {
    const broker = await Broker.create({ ...options, ingest: false });
    const { model, provider } = broker.endpointFor(role);
    const spawns = options.policy.spawnsFor(role);
    const plan = {
      workspace: options.workspace, role, model, provider, sandbox: options.sandbox,
      tools: broker.toolsFor(role),
      children: Object.fromEntries(spawns.map((r) => [r, { tools: broker.toolsFor(r), ...broker.endpointFor(r) }])),
      limits: { max_depth: options.maxDepth, max_parallel: options.maxParallel, max_turns: options.maxTurns, max_tokens: options.maxTokens ?? null, max_cost: options.maxCost ?? null },
      policy: { file: options.policy.file, hash: options.policy.hash },
    };
    await broker.close();
    context.stdout.write(req.json ? JSON.stringify(plan) + '\n' : `dry run: nothing was started\n${JSON.stringify(plan, null, 2)}\n`);
    return ExitCode.completed;
  }

  const mode = req.json ? 'json' : process.stderr.isTTY ? 'live' : 'lines';
  const view = new ProgressView(mode, context.stderr, context.stdout);
  const broker = await Broker.create({ ...options, onEvent: view.onEvent });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      context.stderr.write(`\nchoragen: ${signal}: stopping all sessions (press Ctrl-C again to quit at once)\n`);
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
    const exitCode = EXIT_BY_STATUS[result.status];
    view.freeze();
    if (!req.json && result.finalText) context.stdout.write(result.finalText.trimEnd() + '\n');
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
