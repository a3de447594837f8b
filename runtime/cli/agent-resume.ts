import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class AgentResumeCommand extends ChoragenCommand {
  static override paths = [['agent:resume']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Continue an interrupted or failed session from its last complete turn, with the same grants',
    details: `
      The broker saves every session's transcript to \`.choragen/sessions/<id>.json\` after each turn. Resuming starts a
      new session (recorded with \`resumed_from\`) in the same tree, with the tools the original held, from the last turn
      whose tool calls all completed; results of child sessions that finished are part of that transcript.
      Takes the same run flags as agent:start (provider, budgets, limits).
    `,
    examples: [
      ['Find an interrupted session, then resume it', '$0 agent:list\n$0 agent:resume lq2x8k3a9f01'],
      ['Resume offline on a script', '$0 agent:resume lq2x8k3a9f01 --provider script --script run.json'],
    ],
  });

  id = Option.String({ name: 'session-id' });
  provider = Option.String('--provider', { description: 'anthropic (default), openai or script: the run default for roles without their own' });
  script = Option.String('--script', { description: 'Scripted conversation file for --provider script' });
  model = Option.String('--model', { description: 'Model of roles without their own (default: the session\'s, when it ran on the same provider)' });
  maxTokens = Option.String('--max-tokens', { description: 'Token budget for this run' });
  maxCost = Option.String('--max-cost', { description: 'Cost budget in USD for this run' });
  maxTurns = Option.String('--max-turns', { description: 'Model turns before the session is stopped (default 100)' });
  maxRetries = Option.String('--max-retries', { description: 'Retries of a failing model call (default 4)' });
  sessionTimeout = Option.String('--session-timeout', { description: 'Wall-clock limit per session, e.g. 10m' });
  autoApprove = Option.Boolean('--auto-approve', false, { description: 'Answer yes to every approval' });
  json = Option.Boolean('--json', false, { description: 'One JSON event per line on stdout' });
  unsafeNoSandbox = Option.Boolean('--unsafe-no-sandbox', false, { description: 'Run without Node\'s permission model' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { loadTranscript } = await import('../sessions/transcripts.js');
    const { resolveWorkspace } = await import('../paths.js');
    const { startRun } = await import('../run/start-run.js');
    const { UsageError } = await import('../../policy/errors.js');
    const root = resolveWorkspace(this.workspace);
    const saved = loadTranscript(root, this.id);
    if (saved.status !== 'interrupted' && saved.status !== 'failed' && saved.status !== 'budget_exceeded') {
      throw new UsageError(`session ${this.id} is ${saved.status}; only interrupted, failed or budget_exceeded sessions can be resumed`);
    }
    if (saved.messages.length === 0) throw new UsageError(`session ${this.id} has no saved turn to resume from`);
    return startRun({
      role: saved.identity.role, resume: saved, json: this.json,
      settings: {
        workspace: root, provider: this.provider, script: this.script, model: this.model ?? sameProviderModel(saved, this.provider),
        maxTokens: this.maxTokens, maxCost: this.maxCost, maxTurns: this.maxTurns, maxRetries: this.maxRetries,
        sessionTimeout: this.sessionTimeout, autoApprove: this.autoApprove, unsafeNoSandbox: this.unsafeNoSandbox,
        interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, argv: process.argv.slice(2),
      },
    }, this.context);
  }
}

/**
 * The saved session's model, as the resumed run's default, when it ran on the
 * provider the resumed run defaults to: a model name belongs to one vendor.
 */
function sameProviderModel(saved: { model: string; provider?: string }, provider: string | undefined): string | undefined {
  return saved.provider === undefined || saved.provider === (provider ?? 'anthropic') ? saved.model : undefined;
}
