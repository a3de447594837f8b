import { Command, Option } from 'clipanion';
import { ChoragenCommand, workspaceOption } from './base.js';

export class AgentStartCommand extends ChoragenCommand {
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

      Exit codes: 0 completed, 1 failed, 2 usage or configuration error, 3 budget exceeded, 130 interrupted.
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
    ],
  });

  role = Option.String('--role', { required: true, description: 'control (plans, delegates), impl (edits files) or a role the policy defines' });
  message = Option.String('--message,-m', { description: 'What the session should do (its first user message)' });
  task = Option.String('--task', { description: 'A task id (CHAIN-ID/NNN-slug): its file is put into the first message' });
  chain = Option.String('--chain', { description: 'A chain id: its status is put into the control session\'s first message' });
  provider = Option.String('--provider', { description: 'anthropic (default; ANTHROPIC_API_KEY), openai (any OpenAI-compatible endpoint; OPENAI_API_KEY, OPENAI_BASE_URL) or script (offline, every role; needs --script)' });
  script = Option.String('--script', { description: 'Scripted conversation file for --provider script (JSON or YAML)' });
  model = Option.String('--model', { description: 'Model of roles without their own (default: $CHORAGEN_MODEL, else claude-sonnet-5 / gpt-5-mini by provider)' });
  maxTokens = Option.String('--max-tokens', { description: 'Token budget for the whole session tree' });
  maxCost = Option.String('--max-cost', { description: 'Cost budget in USD for the whole session tree' });
  maxDepth = Option.String('--max-depth', { description: 'Deepest spawn allowed (root is 0; default: the policy\'s, 2)' });
  maxParallel = Option.String('--max-parallel', { description: 'Child sessions running at once per tree (default: the policy\'s, 4)' });
  maxTurns = Option.String('--max-turns', { description: 'Model turns per session before it is stopped (default 100)' });
  maxRetries = Option.String('--max-retries', { description: 'Retries of a failing model call (429/529/5xx/reset; default 4)' });
  sessionTimeout = Option.String('--session-timeout', { description: 'Wall-clock limit per session, e.g. 10m' });
  workerMemoryMb = Option.String('--worker-memory-mb', { description: 'Heap limit of a session worker in MB (default 512)' });
  requireApproval = Option.Boolean('--require-approval', false, { description: 'Every mutation needs a human yes on the terminal' });
  autoApprove = Option.Boolean('--auto-approve', false, { description: 'Answer yes to every approval (recorded as auto-approve)' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Check the setup and print the tools and limits; call no model' });
  json = Option.Boolean('--json', false, { description: 'Print one JSON event per line on stdout instead of the live view' });
  recordCommits = Option.Boolean('--record-commits', true, { description: 'Commit each session\'s files to refs/choragen/sessions/<id> (git workspaces; --no-record-commits to skip)' });
  unsafeNoSandbox = Option.Boolean('--unsafe-no-sandbox', false, { description: 'Run sessions without Node\'s permission model (loud; audited)' });
  policy = Option.String('--policy', { description: 'Governance file (default: <workspace>/choragen.governance.yaml)' });
  workspace = workspaceOption();

  async run(): Promise<number> {
    const { startRun } = await import('../run/start-run.js');
    return startRun({
      role: this.role, message: this.message, taskId: this.task, chainId: this.chain, dryRun: this.dryRun, json: this.json,
      settings: {
        workspace: this.workspace, policyFile: this.policy, provider: this.provider, script: this.script, model: this.model,
        maxTokens: this.maxTokens, maxCost: this.maxCost, maxDepth: this.maxDepth, maxParallel: this.maxParallel,
        maxTurns: this.maxTurns, maxRetries: this.maxRetries, sessionTimeout: this.sessionTimeout, workerMemoryMb: this.workerMemoryMb,
        autoApprove: this.autoApprove, requireApproval: this.requireApproval, unsafeNoSandbox: this.unsafeNoSandbox,
        recordCommits: this.recordCommits, interactive: !!process.stdin.isTTY && !!process.stderr.isTTY, argv: process.argv.slice(2),
      },
    }, this.context);
  }
}
