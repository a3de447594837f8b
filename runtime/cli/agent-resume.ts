import { Command, Option } from 'clipanion';
import { ChoragenCommand } from './base.js';
import { runFlags, runSettings } from './run-flags.js';

export class AgentResumeCommand extends ChoragenCommand {
  static override exitWhenDone = true;
  static override paths = [['agent:resume']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Continue an interrupted or failed session from what it recorded, with the same grants',
    details: `
      The broker journals every session to \`.choragen/sessions/<id>.jsonl\` as it runs: each message, and each tool
      result the moment it exists. Resuming an interrupted, failed or budget_exceeded session starts a new session
      (recorded with \`resumed_from\`) in the same tree, with the tools the original held (capped by the current
      policy), from what the model last saw (the compacted transcript, if the conversation was compacted). A tool call
      of the last turn whose result was recorded is never run again: the model gets that result. One whose result was
      not recorded (the process died while it ran) is reported to the model as interrupted, its effect unknown, so the
      model checks before trying again. A journal damaged before its last line (more than the line a crash may cut
      short) is not resumed (exit 2): what the session did after the damage is unknown, and could be done twice.

      Only one resume of a session runs at a time; a second one exits with 2 naming the process that holds it. A
      session that was already resumed is not run again (exit 2): the message names the session that carried on
      (\`agent:resume\` that one if it stopped too). The original keeps its status; \`resumed_by\` in agent:show,
      agent:list and the \`sessions\` table names the session that resumed it.

      Takes agent:start's run flags (provider, model, budgets, limits, approvals); without \`--provider\` the session
      carries on on the provider it ran on. The budgets count this run only.
    `,
    examples: [
      ['Find an interrupted session, then resume it', '$0 agent:list\n$0 agent:resume mx3b7k2q4e9f1c'],
      ['Resume offline on a script', '$0 agent:resume mx3b7k2q4e9f1c --provider script --script run.json'],
    ],
  });

  id = Option.String({ name: 'session-id' });
  provider = Option.String('--provider', { description: 'anthropic, openai or script: the run default for roles without their own (default: the provider the session ran on)' });
  script = runFlags.script();
  model = Option.String('--model', { description: 'Model of roles without their own (default: the session\'s, when it ran on the same provider)' });
  maxTokens = runFlags.maxTokens();
  maxCost = runFlags.maxCost();
  maxDepth = runFlags.maxDepth();
  maxParallel = runFlags.maxParallel();
  maxTurns = runFlags.maxTurns();
  maxRetries = runFlags.maxRetries();
  sessionTimeout = runFlags.sessionTimeout();
  contextWindow = runFlags.contextWindow();
  requestTimeout = runFlags.requestTimeout();
  workerMemoryMb = runFlags.workerMemoryMb();
  requireApproval = runFlags.requireApproval();
  autoApprove = runFlags.autoApprove();
  json = runFlags.json();
  recordCommits = runFlags.recordCommits();
  unsafeNoSandbox = runFlags.unsafeNoSandbox();
  policy = runFlags.policy();
  workspace = runFlags.workspace();

  async run(): Promise<number> {
    const { resolveWorkspace } = await import('../paths.js');
    const { loadTranscript } = await import('../sessions/transcripts.js');
    const { ResumeLock } = await import('../sessions/resume.js');
    const { startRun } = await import('../run/start-run.js');
    const root = resolveWorkspace(this.workspace);
    loadTranscript(root, this.id); // a usage error for an unknown id, before any lock is made
    const lock = ResumeLock.acquire(root, this.id);
    try {
      const saved = await resumableSession(root, this.id);
      // A session carries on where it ran: an OpenAI session resumed without --provider stays on OpenAI.
      const provider = this.provider ?? saved.provider;
      if (provider === 'script' && this.provider === undefined && this.script === undefined) {
        const { UsageError } = await import('../../policy/errors.js');
        throw new UsageError(`session ${this.id} ran on a scripted conversation: give --script FILE to resume it offline, or --provider anthropic or openai to resume it on a model`);
      }
      return await startRun({
        role: saved.identity.role, resume: saved, json: this.json,
        settings: { ...runSettings(this), workspace: root, provider, model: this.model ?? sameProviderModel(saved, provider) },
      }, this.context);
    } finally {
      lock.release();
    }
  }
}

/** The saved session, if it may be resumed now; otherwise a UsageError that says why and what to do instead. */
async function resumableSession(workspace: string, id: string) {
  const { findTranscript, loadTranscript } = await import('../sessions/transcripts.js');
  const { resumedBy } = await import('../sessions/resume.js');
  const { UsageError } = await import('../../policy/errors.js');
  const saved = loadTranscript(workspace, id);
  const by = resumedBy(workspace, id);
  // A resume that died before its session recorded anything (no journal, or not even its header) did not carry on: it does not count.
  const next = by ? readableTranscript(() => findTranscript(workspace, by.session_id)) : null;
  if (by && next) {
    if (next.status === 'completed') throw new UsageError(`session ${id} was already resumed by session ${by.session_id}, which completed; nothing to resume (see \`choragen agent:show ${by.session_id}\`)`);
    if (next.status === 'running') throw new UsageError(`session ${id} was already resumed by session ${by.session_id}, which is still running (process ${next.writer?.pid})`);
    throw new UsageError(`session ${id} was already resumed by session ${by.session_id}, which is ${next.status}; resume that one instead: choragen agent:resume ${by.session_id}`);
  }
  if (saved.status === 'running') {
    throw new UsageError(`session ${id} is still running (process ${saved.writer?.pid}); stop that run first, or wait for it to end`);
  }
  if (saved.status !== 'interrupted' && saved.status !== 'failed' && saved.status !== 'budget_exceeded') {
    throw new UsageError(`session ${id} is ${saved.status}; only interrupted, failed or budget_exceeded sessions can be resumed`);
  }
  if (saved.messages.length === 0) throw new UsageError(`session ${id} has no saved turn to resume from`);
  if (saved.damaged_line !== undefined) {
    throw new UsageError(
      `the journal of session ${id} (.choragen/sessions/${id}.jsonl) is damaged at line ${saved.damaged_line}: ` +
        'what the session did after that line is unknown, and resuming from before it could do it twice; start a new session instead',
    );
  }
  return saved;
}

function readableTranscript<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/**
 * The saved session's model, as the resumed run's default, when it ran on the
 * provider the resumed run defaults to: a model name belongs to one vendor.
 */
function sameProviderModel(saved: { model: string; provider?: string }, provider: string | undefined): string | undefined {
  return saved.provider === undefined || saved.provider === (provider ?? 'anthropic') ? saved.model : undefined;
}
