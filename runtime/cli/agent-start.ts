import { Command, Option } from 'clipanion';
import { ChoragenCommand } from './base.js';
import { runFlags, runSettings } from './run-flags.js';

export class AgentStartCommand extends ChoragenCommand {
  static override exitWhenDone = true;
  static override paths = [['agent:start']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Run a session of any role (and the child sessions it spawns) under the workspace policy',
    details: `
      Starts a session tree in sandboxed worker threads. The broker (this process) holds the API key, decides every tool call
      against \`choragen.governance.yaml\`, meters every token, and records every event in \`.choragen/audit/\` and
      \`.choragen/metrics.duckdb\`.

      \`--role\` is control, impl or any role the policy defines under \`roles:\`. \`--provider\` and \`--model\` set the
      run's defaults; a role's own \`provider\` and \`model\` win for its sessions, so one tree can mix Anthropic and an
      OpenAI-compatible endpoint (OPENAI_BASE_URL: OpenAI, Ollama, vLLM, LM Studio, OpenRouter). Every key the tree can
      need is checked before anything starts.

      Long sessions: every request marks prompt-cache breakpoints (the role's tools and system prompt are the same bytes
      for every session of the role, so a new session starts from the cache), and before a request would not fit the
      model's context window (\`--context-window\`) the conversation is compacted: older tool results become one-line
      stubs that say how to get them again, the newest turns stay whole (audited as \`compaction\`). Model calls
      stream; \`--request-timeout\` bounds every wait for the endpoint, and a call that stalls is retried like a dropped
      connection (\`--max-retries\`).

      Exit codes: 0 completed, 1 failed, 2 usage or configuration error (also an API key the endpoint refuses or a
      model it does not have: the whole tree stops), 3 budget exceeded, 130 interrupted.
      \`--max-depth\` and \`--max-parallel\` can only narrow the policy's \`limits\`; they hold for every role.
    `,
    examples: [
      ['Plan and delegate with a real model', 'export ANTHROPIC_API_KEY=…; $0 agent:start --role=control --message "Add input validation to src/api.ts"'],
      ['Run offline on a scripted model', '$0 agent:start --role control --provider script --script examples/demo-script.json --message "demo"'],
      ['A role defined in the policy, on its own', '$0 agent:start --role reviewer --message "Review the last commit"'],
      ['Everything on a local Ollama model', 'OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_API_KEY=ollama $0 agent:start --role impl --provider openai --model qwen3-coder -m "…"'],
      ['Work on a task of a chain', '$0 agent:start --role control --chain CHAIN-001-login --max-cost 2'],
      ['Machine-readable progress', '$0 agent:start --role impl --message "Fix the typo in README.md" --json'],
      ['See what would run, without calling a model', '$0 agent:start --role control --message "…" --dry-run'],
      ['A model the window table does not know, behind a slow endpoint', '$0 agent:start --role impl -m "…" --model my-model --context-window 32000 --request-timeout 300'],
    ],
  });

  role = Option.String('--role', { required: true, description: 'control (plans, delegates), impl (edits files) or a role the policy defines' });
  message = Option.String('--message,-m', { description: 'What the session should do (its first user message)' });
  task = Option.String('--task', { description: 'A task id (CHAIN-ID/NNN-slug): its file is put into the first message' });
  chain = Option.String('--chain', { description: 'A chain id: its status is put into the control session\'s first message' });
  provider = Option.String('--provider', { description: 'anthropic (default; ANTHROPIC_API_KEY), openai (any OpenAI-compatible endpoint; OPENAI_API_KEY, OPENAI_BASE_URL) or script (offline, every role; needs --script)' });
  script = runFlags.script();
  model = Option.String('--model', { description: 'Model of roles without their own (default: $CHORAGEN_MODEL, else claude-sonnet-5 / gpt-5-mini by provider)' });
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
  dryRun = Option.Boolean('--dry-run', false, { description: 'Check the setup (policy, prompts, sandbox) and print what would run: each role\'s model, provider and whether its key is set, tools, the roles it may start, limits; call no model, need no key' });
  json = runFlags.json();
  recordCommits = runFlags.recordCommits();
  unsafeNoSandbox = runFlags.unsafeNoSandbox();
  policy = runFlags.policy();
  workspace = runFlags.workspace();

  async run(): Promise<number> {
    const { startRun } = await import('../run/start-run.js');
    return startRun({
      role: this.role, message: this.message, taskId: this.task, chainId: this.chain, dryRun: this.dryRun, json: this.json,
      settings: { ...runSettings(this), workspace: this.workspace, provider: this.provider, model: this.model },
    }, this.context);
  }
}
