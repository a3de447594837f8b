import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class AgentResumeCommand extends ChoragenCommand {
  static override paths = [['agent:resume']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Continue an interrupted or failed session from what it recorded, with the same grants',
    details: `
      The broker journals every session to \`.choragen/sessions/<id>.jsonl\` as it runs: each message, and each tool
      result the moment it exists. Resuming starts a new session (recorded with \`resumed_from\`) in the same tree, with
      the tools the original held (capped by the current policy). A session whose conversation was compacted resumes
      from the compacted transcript: what the model last saw. A tool call of the last turn whose result was recorded is never run again: the model
      gets that result. One whose result was not recorded (the process died while it ran) is reported to the model as
      interrupted, with its effect unknown, so the model checks before trying again.

      Only one resume of a session runs at a time; a second one exits with 2 naming the process that holds it. A
      session that was already resumed is not run again (exit 2): the message names the session that carried on
      (\`agent:resume\` that one if it stopped too). The original keeps its status; \`resumed_by\` in agent:show,
      agent:list and the \`sessions\` table names the session that resumed it.
      Takes the same run flags as agent:start (provider, budgets, limits).
    `,
    examples: [
      ['Find an interrupted session, then resume it', '$0 agent:list\n$0 agent:resume mx3b7k2q4e9f1c'],
      ['Resume offline on a script', '$0 agent:resume mx3b7k2q4e9f1c --provider script --script run.json'],
    ],
  });

  id = Option.String({ name: 'session-id' });
  provider = Option.String('--provider', { description: 'anthropic, openai or script: the run default for roles without their own (default: the provider the session ran on)' });
  script = Option.String('--script', { description: 'Scripted conversation file for --provider script' });
  model = Option.String('--model', { description: 'Model of roles without their own (default: the session\'s, when it ran on the same provider)' });
  maxTokens = Option.String('--max-tokens', { description: 'Token budget for this run' });
  maxCost = Option.String('--max-cost', { description: 'Cost budget in USD for this run' });
  maxTurns = Option.String('--max-turns', { description: 'Model turns before the session is stopped (default 100)' });
  maxRetries = Option.String('--max-retries', { description: 'Retries of a failing model call (default 4)' });
  sessionTimeout = Option.String('--session-timeout', { description: 'Wall-clock limit per session, e.g. 10m' });
  contextWindow = Option.String('--context-window', { description: 'Tokens the model\'s context window holds (default: the model\'s, from choragen\'s table; 32,000 for a model it does not know). The conversation is compacted before a request would not fit' });
  requestTimeout = Option.String('--request-timeout', { description: 'Seconds to wait for the model endpoint\'s first streamed event and between two (default 120); past it the call is retried' });
  autoApprove = Option.Boolean('--auto-approve', false, { description: 'Answer yes to every approval' });
  json = Option.Boolean('--json', false, { description: 'One JSON event per line on stdout' });
  unsafeNoSandbox = Option.Boolean('--unsafe-no-sandbox', false, { description: 'Run without Node\'s permission model' });
  workspace = workspaceOption();

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
      return await startRun({
        role: saved.identity.role, resume: saved, json: this.json,
        settings: {
          workspace: root, provider, script: this.script, model: this.model ?? sameProviderModel(saved, provider),
          maxTokens: this.maxTokens, maxCost: this.maxCost, maxTurns: this.maxTurns, maxRetries: this.maxRetries,
          sessionTimeout: this.sessionTimeout, contextWindow: this.contextWindow, requestTimeout: this.requestTimeout,
          autoApprove: this.autoApprove, unsafeNoSandbox: this.unsafeNoSandbox,
          interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, argv: process.argv.slice(2),
        },
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
  // A resume that died before its session recorded anything did not carry on: it does not count.
  const next = by ? findTranscript(workspace, by.session_id) : null;
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
  return saved;
}

/**
 * The saved session's model, as the resumed run's default, when it ran on the
 * provider the resumed run defaults to: a model name belongs to one vendor.
 */
function sameProviderModel(saved: { model: string; provider?: string }, provider: string | undefined): string | undefined {
  return saved.provider === undefined || saved.provider === (provider ?? 'anthropic') ? saved.model : undefined;
}
