// The broker: the only holder of authority. It starts every session in a
// sandboxed worker, binds its ports to (session, role, tool), decides and
// performs every tool call, meters every model call, enforces depth, parallel
// and budget limits for the tree, and records every event in the audit log.
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { type Capability, type ChildReport, type ToolLimits, type ToolOffer, offeredInput } from '../../capabilities/capability.js';
import type { Message, ModelPortIn, ModelRequest, SessionOutcome, ToolReply, ToolRequest } from '../../capabilities/protocol.js';
import { REGISTRY } from '../../capabilities/index.js';
import type { CompiledPolicy, Role } from '../../policy/types.js';
import { Approver, type PromptHost } from './approver.js';
import { AuditLog } from '../audit/log.js';
import { TreeBudget } from './budget.js';
import { ToolFailure, ToolRefusal, UsageError } from '../../policy/errors.js';
import type { AuditEvent, AuditLine, SessionStatus } from '../audit/events.js';
import { childGrant, type Grant, roleGrant, roleTools, toolOffer } from './grants.js';
import { newSessionId } from '../ids.js';
import { LiveSession } from './live-session.js';
import { ModelGateway, type SessionModelSetup } from './model-gateway.js';
import { costOf, isKnownModel } from '../providers/pricing.js';
import { sessionFacts, systemPrompt } from './system-prompt.js';
import type { ModelProvider, ProviderName, ToolSpec } from '../providers/provider.js';
import { type RoleEndpoint, type RunDefaults, definedRole, roleEndpoint } from './role-models.js';
import { type RolePrompt, loadRolePrompts } from './role-prompts.js';
import type { SandboxKind } from './worker-sandbox.js';
import { SessionPool } from './session-pool.js';
import { ToolDispatcher } from './tool-dispatcher.js';
import { type SavedSession, TranscriptWriter } from '../sessions/transcripts.js';
import { continuation, markResumed } from '../sessions/resume.js';
import { version } from '../version.js';
import { termLine } from '../terminal/text.js';
import { errnoCode, errnoWords, storageAdvice } from '../storage-error.js';
import { WriteRegistry } from './write-locks.js';
import { probeSandbox, type SandboxVerdict } from '../../capabilities/sandbox/index.js';
import { RUN_COMMAND_TOOL } from '../../policy/commands.js';

export interface BrokerOptions {
  workspace: string; // real path
  policy: CompiledPolicy;
  /** The run's default provider and model (--provider, --model); a role's own `provider`/`model` win. */
  defaults: RunDefaults;
  /** One provider per name, for every provider the run can reach (runtime/providers/registry.ts). */
  providers: ReadonlyMap<ProviderName, ModelProvider>;
  /** The prompts of the roles the run can reach (default: every role's, read at create). */
  rolePrompts?: ReadonlyMap<Role, RolePrompt>;
  /** One-line notices recorded when the run starts (a model without a known price). */
  notices?: readonly string[];
  sandbox: SandboxKind;
  maxDepth: number;
  maxParallel: number;
  maxTurns: number;
  maxRetries: number;
  retryBaseMs: number;
  maxOutputTokens: number;
  /** --context-window: the model's window in tokens, instead of the table's. */
  contextWindow?: number;
  /** --request-timeout: the longest wait for a model endpoint's first event and between two. */
  requestTimeoutMs?: number;
  maxTokens?: number;
  maxCost?: number;
  sessionTimeoutMs?: number;
  workerMemoryMb?: number;
  autoApprove: boolean;
  requireApproval: boolean;
  interactive: boolean;
  approvalTimeoutMs: number;
  recordCommits: boolean;
  toolLimits: ToolLimits;
  argv: string[];
  /** Every audit line, as it is written (progress view, --json). */
  onEvent?: (line: AuditLine) => void;
  /** What else draws on the terminal (the live view): it steps aside while an approval question is open. */
  promptHost?: PromptHost;
  /** A streamed model answer is arriving (live view): output tokens so far. */
  onProgress?: (sessionId: string, outputTokens: number) => void;
  /** The command sandbox's verdict (default: probeSandbox(), cached); specs inject one to test a machine without bubblewrap. */
  commandSandbox?: () => Promise<SandboxVerdict>;
  /** A pool to share (bench), or one started early and handed over (ownPool); otherwise the broker makes and owns one. */
  pool?: SessionPool;
  /** The broker closes `pool` when it closes. */
  ownPool?: boolean;
  /**
   * Ingest the audit log into DuckDB when the run ends. Default false: every
   * metrics command ingests unfed logs first (DESIGN.md §5), so a run does not
   * pay for opening the database.
   */
  ingest?: boolean;
}

export interface RootRequest {
  role: Role;
  message: string;
  taskId?: string;
  chainId?: string;
  /** Continue a saved session instead of starting from `message`. */
  resume?: SavedSession;
}

export interface RunResult {
  rootId: string;
  /** The session this run started (differs from rootId for a resumed session). */
  sessionId: string;
  status: Exclude<SessionStatus, 'running'>;
  finalText: string;
  error: string | null;
  durationMs: number;
  sessions: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
  auditFile: string;
  /** The endpoint refused the configuration (its key): the run is a configuration error (exit 2). */
  configError: boolean;
}

interface TreeStop { status: 'interrupted' | 'budget_exceeded' | 'failed'; reason: string }

const HARD_STOP_GRACE_MS = 1500;

export class Broker {
  private audit: AuditLog | null = null;
  private rootId = '';
  private readonly budget: TreeBudget;
  private readonly treeAbort = new AbortController();
  private stop: TreeStop | null = null;
  private readonly kills = new Set<AbortController>();
  private runningChildren = 0;
  private readonly sessions = new Map<string, LiveSession>();
  private readonly children = new Map<string, Set<LiveSession>>();
  /** Each running session's journal, by session id. */
  private readonly journals = new Map<string, TranscriptWriter>();
  /** Why records can no longer be written (audit log or journal), once a write failed. */
  private recordFailure: string | null = null;
  private readonly gateway: ModelGateway;
  private readonly dispatcher: ToolDispatcher;
  private sessionCount = 0;
  private finished = false;
  private firstSessionRef: Promise<boolean> | null = null;
  private refsExplained = false;
  private configError = false;
  private readonly commandSandbox: () => Promise<SandboxVerdict>;
  private earlyProbe: Promise<SandboxVerdict> | undefined;

  private constructor(
    private readonly opts: BrokerOptions,
    private readonly pool: SessionPool,
    private readonly ownsPool: boolean,
    private readonly prompts: ReadonlyMap<Role, RolePrompt>,
  ) {
    this.budget = new TreeBudget(opts.maxTokens, opts.maxCost);
    const writes = new WriteRegistry();
    this.commandSandbox = opts.commandSandbox ?? (() => probeSandbox());
    // Probe early when a role may run commands: the verdict is ready (and cached) by the first call.
    if (opts.policy.roles.some((r) => roleTools(opts.policy, r, REGISTRY).includes(RUN_COMMAND_TOOL))) this.earlyProbe = this.commandSandbox();
    const approver = new Approver({ autoApprove: opts.autoApprove, interactive: opts.interactive, timeoutMs: opts.approvalTimeoutMs, host: opts.promptHost });
    this.dispatcher = new ToolDispatcher(REGISTRY, {
      workspace: opts.workspace,
      policy: opts.policy,
      limits: opts.toolLimits,
      approver,
      writes,
      requireApproval: opts.requireApproval,
      onApproval: (session, tool, path, rule, answer, by) =>
        this.record({ type: 'approval', session_id: session.id, tool, path, rule, answer, by }),
      services: (session) => ({
        checkSpawn: (role) => this.checkSpawn(session, role),
        spawnChild: (req) => this.spawnChild(session, req),
      }),
      sandbox: () => this.commandSandbox(),
    }, (event) => this.record(event), (session, result) => this.journals.get(session.id)?.toolResult(result));
    this.gateway = new ModelGateway({
      maxRetries: opts.maxRetries,
      retryBaseMs: opts.retryBaseMs,
      maxOutputTokens: opts.maxOutputTokens,
      requestTimeoutMs: opts.requestTimeoutMs,
      contextWindow: opts.contextWindow,
      costOf,
      treeStop: () => this.stop,
      treeSignal: this.treeAbort.signal,
      record: (event) => this.record(event),
      afterCall: (session, answer, cost) => {
        let refused: Record<string, string> | undefined;
        for (const block of answer.content) {
          if (block.type !== 'tool_use') continue;
          const refusal = this.dispatcher.refuseAtArrival(session, block);
          if (refusal !== null) (refused ??= Object.create(null) as Record<string, string>)[block.id] = refusal;
        }
        const model = answer.model || session.model;
        const estimated = session.provider.name !== 'script' && !isKnownModel(model) ? model : undefined;
        const { warn, spent } = this.budget.add(answer.usage, cost, estimated);
        if (warn) this.record({ type: 'notice', session_id: session.id, kind: 'budget_warning', message: `80% of the budget is spent (${this.budget.describe()})` });
        if (spent) this.stopTree('budget_exceeded', `budget exceeded (${this.budget.describe()})`);
        return refused;
      },
      configError: (reason) => {
        this.configError = true;
        this.stopTree('failed', reason);
      },
      onProgress: opts.onProgress ? (session, tokens) => opts.onProgress!(session.id, tokens) : undefined,
    });
  }

  static async create(opts: BrokerOptions): Promise<Broker> {
    const prompts = opts.rolePrompts ?? (await loadRolePrompts(opts.workspace, opts.policy, opts.policy.roles));
    const pool = opts.pool ?? (await SessionPool.create({
      sandbox: opts.sandbox,
      maxThreads: opts.maxParallel + 1,
      maxOldGenerationSizeMb: opts.workerMemoryMb,
    }));
    return new Broker(opts, pool, !opts.pool || opts.ownPool === true, prompts);
  }

  /** Tools a role is offered in this run (the same list the manifest prints). */
  toolsFor(role: Role): string[] {
    return roleTools(this.opts.policy, role, REGISTRY);
  }

  /** The model and provider a role's sessions run on in this run. */
  endpointFor(role: Role): RoleEndpoint {
    return roleEndpoint(this.opts.policy, role, this.opts.defaults);
  }

  async run(req: RootRequest): Promise<RunResult> {
    const t0 = performance.now();
    const resumed = req.resume;
    this.rootId = resumed ? resumed.identity.rootId : newSessionId();
    const rootSessionId = resumed ? newSessionId() : this.rootId;
    // Everything that can be wrong with the request is found before anything is recorded.
    const role = resumed ? resumed.identity.role : req.role;
    definedRole(this.opts.policy, role);
    this.sessionSetup(role); // a role the run cannot serve fails before anything is recorded
    const first = resumed ? null : await this.firstMessage({ id: rootSessionId, depth: 0 }, req.role, req.message, req.taskId, req.chainId);
    // The saved session names the one that continues it before anything runs,
    // so a later resume of it points there instead of doing the work again.
    if (resumed) markResumed(this.opts.workspace, resumed.identity.id, rootSessionId);
    // Every run writes its own log, named by the session it starts (for a
    // resumed session: the new id; its root_id still names the original tree).
    const audit = (this.audit = AuditLog.open(this.opts.workspace, rootSessionId, this.header()));
    if (this.opts.sandbox === 'none') {
      this.record({ type: 'notice', session_id: rootSessionId, kind: 'unsafe_no_sandbox', message: 'sessions run WITHOUT the permission sandbox (--unsafe-no-sandbox)' });
    }
    for (const message of this.opts.notices ?? []) this.record({ type: 'notice', session_id: rootSessionId, kind: 'unknown_price', message });
    let grant: Grant;
    let messages: Message[];
    let identity;
    if (resumed) {
      grant = resumedGrant(resumed, roleGrant(this.opts.policy, role, resumed.identity.depth, this.opts.maxDepth, REGISTRY));
      messages = continuation(resumed);
      identity = { ...resumed.identity, id: rootSessionId };
      this.record({ type: 'notice', session_id: rootSessionId, kind: 'resume', message: `resumes session ${resumed.identity.id} from what it recorded` });
    } else {
      grant = roleGrant(this.opts.policy, role, 0, this.opts.maxDepth, REGISTRY);
      messages = [{ role: 'user', content: first! }];
      identity = { id: rootSessionId, role: req.role, depth: 0, parentId: null, rootId: this.rootId, taskId: req.taskId ?? null, chainId: req.chainId ?? null };
    }
    const { session, outcome } = await this.runSession(identity, grant, messages, resumed?.identity.id ?? null);
    this.finished = true;
    audit.close();
    if (this.opts.ingest) await this.ingest();
    // A run whose records could not all be written has failed, whatever its sessions did.
    const unrecorded = this.recordFailure !== null && session.status === 'completed';
    return {
      rootId: this.rootId,
      sessionId: session.id,
      status: unrecorded ? 'failed' : (session.status as RunResult['status']),
      finalText: outcome.finalText,
      error: unrecorded ? this.recordFailure : outcome.error,
      durationMs: performance.now() - t0,
      sessions: this.sessionCount,
      inputTokens: sum(this.sessions, (s) => s.usage.input_tokens),
      outputTokens: sum(this.sessions, (s) => s.usage.output_tokens),
      cacheReadTokens: sum(this.sessions, (s) => s.usage.cache_read_tokens),
      cacheWriteTokens: sum(this.sessions, (s) => s.usage.cache_write_tokens),
      costUsd: sum(this.sessions, (s) => s.cost),
      auditFile: audit.file,
      configError: this.configError,
    };
  }

  /** SIGINT/SIGTERM: every session stops; in-flight model calls are aborted. */
  interrupt(reason = 'interrupted'): void {
    this.stopTree('interrupted', reason);
  }

  async close(): Promise<void> {
    // A probe still running cleans up its scratch workspace and cgroup before the process may end.
    await this.earlyProbe;
    if (this.ownsPool) await this.pool.close();
  }

  // --- sessions -------------------------------------------------------------

  private async runSession(identity: LiveSession['identity'], grant: Grant, messages: Message[], resumedFrom: string | null = null): Promise<{ session: LiveSession; outcome: SessionOutcome }> {
    const { endpoint, provider, prompt, offer } = this.sessionSetup(identity.role);
    const session = new LiveSession(identity, grant.tools, grant.envelope, endpoint.model, provider);
    session.transcript.push(...messages);
    this.sessions.set(session.id, session);
    this.sessionCount++;
    if (identity.parentId) {
      const siblings = this.children.get(identity.parentId) ?? new Set();
      siblings.add(session);
      this.children.set(identity.parentId, siblings);
    }
    this.record({
      type: 'session_started', session_id: session.id, parent_id: identity.parentId, root_id: identity.rootId, role: identity.role,
      depth: identity.depth, model: session.model, provider: endpoint.provider, task_id: identity.taskId, chain_id: identity.chainId,
      started_at: session.startedAt.toISOString(), tools: [...grant.tools], resumed_from: resumedFrom,
    });
    const journal = new TranscriptWriter(this.opts.workspace, { identity, tools: [...grant.tools], envelope: [...grant.envelope], model: session.model, provider: endpoint.provider },
      (err) => this.failRecords(err));
    if (grant.tools.includes(RUN_COMMAND_TOOL)) {
      const verdict = await this.commandSandbox();
      if (!verdict.ok) this.record({ type: 'notice', session_id: session.id, kind: 'commands_unavailable', message: `run_command will refuse every command: ${verdict.reason}` });
    }
    const setup: SessionModelSetup = {
      system: systemPrompt(identity.role, prompt.text, this.opts.policy),
      tools: grant.tools.map((name) => toolSpec(REGISTRY.get(name)!, offer)),
      modelSetting: endpoint.modelSetting,
      onCompacted: (transcript) => journal.compacted(transcript),
    };
    journal.sync(session.transcript);
    this.journals.set(session.id, journal);
    const brokerPorts: MessagePort[] = [];
    const transfer: TransferListItem[] = [];
    const model = new MessageChannel();
    brokerPorts.push(model.port1);
    transfer.push(model.port2);
    const kill = new AbortController();
    this.kills.add(kill);
    // Every port handler ends in a reply or in stopping this one session:
    // nothing a model sends can reject a promise nobody handles.
    const stopSession = (reason: string) => {
      if (session.abort.signal.aborted) return;
      session.abort.abort(reason);
      setTimeout(() => kill.abort(reason), HARD_STOP_GRACE_MS).unref();
    };
    model.port1.on('message', (req: ModelRequest) => {
      this.gateway
        .answer(session, setup, req)
        .catch((err: unknown): ModelPortIn => ({ type: 'model_stop', id: req?.id, status: 'failed', reason: `the broker could not answer: ${errorKind(err)}` }))
        .then((reply) => {
          // Journaled before the reply leaves: the session acts on it at once.
          journal.sync(session.transcript);
          if (reply.type === 'model_reply' && reply.refused) {
            for (const [id, content] of Object.entries(reply.refused)) journal.toolResult({ type: 'tool_result', tool_use_id: id, content, is_error: true });
          }
          const fallback: ModelPortIn = { type: 'model_stop', id: req?.id, status: 'failed', reason: 'the model reply could not be passed to the session' };
          if (!post(model.port1, reply, fallback)) stopSession('the model reply could not be passed to the session');
        })
        .catch((err: unknown) => stopSession(`the session transcript could not be written: ${errorKind(err)}`));
    });
    const toolPorts: Record<string, MessagePort> = {};
    for (const tool of grant.tools) {
      const channel = new MessageChannel();
      brokerPorts.push(channel.port1);
      transfer.push(channel.port2);
      toolPorts[tool] = channel.port2;
      channel.port1.on('message', (req: ToolRequest) => {
        this.dispatcher
          .handle(session, tool, req, session.abort.signal)
          .catch((err: unknown): ToolReply => ({ type: 'tool_reply', id: req?.id, content: `${tool} failed: ${errorKind(err)}`, is_error: true }))
          .then((reply) => {
            // A result that could not be recorded is not reported as done: the run is stopping.
            const sent: ToolReply = this.recordFailure ? { ...reply, content: `the run is stopping: ${this.recordFailure}`, is_error: true, ends_session: undefined } : reply;
            const fallback: ToolReply = { type: 'tool_reply', id: req?.id, content: `${tool} failed: its result could not be passed to the session`, is_error: true };
            if (!post(channel.port1, sent, fallback)) stopSession(`the ${tool} result could not be passed to the session`);
          })
          .catch((err: unknown) => stopSession(`the ${tool} call failed in the broker: ${errorKind(err)}`));
      });
    }

    let timer: NodeJS.Timeout | undefined;
    if (this.opts.sessionTimeoutMs) {
      timer = setTimeout(() => {
        session.abort.abort(`session timeout after ${Math.round(this.opts.sessionTimeoutMs! / 1000)}s (--session-timeout)`);
        setTimeout(() => kill.abort(), HARD_STOP_GRACE_MS).unref();
      }, this.opts.sessionTimeoutMs);
      timer.unref();
    }

    let outcome: SessionOutcome;
    try {
      outcome = await this.pool.run(
        { label: `${identity.role}:${identity.id}`, model: model.port2, tools: toolPorts, messages, maxTurns: this.opts.maxTurns, requireSandbox: this.opts.sandbox !== 'none' },
        transfer,
        kill.signal,
      );
    } catch (err) {
      outcome = this.crashOutcome(session, err);
    } finally {
      if (timer) clearTimeout(timer);
      this.kills.delete(kill);
      for (const port of brokerPorts) port.close();
    }
    // A tree-wide stop names the status of every session it ended.
    if (this.stop && outcome.status !== 'completed') outcome = { ...outcome, status: this.stop.status, error: outcome.error ?? this.stop.reason };
    session.status = outcome.status;
    // Children never outlive their parent.
    for (const child of this.children.get(session.id) ?? []) if (child.status === 'running') child.abort.abort('parent session ended');
    await this.commitSession(session);
    this.record({
      type: 'session_ended', session_id: session.id, status: outcome.status, ended_at: new Date().toISOString(),
      duration_ms: performance.now() - session.startedMs, error: outcome.error, final_text: outcome.finalText,
      files_changed: [...session.filesChanged],
    });
    journal.finish(session.transcript, outcome.status, outcome.error);
    this.journals.delete(session.id);
    return { session, outcome };
  }

  private crashOutcome(session: LiveSession, err: unknown): SessionOutcome {
    const message = err instanceof Error ? err.message : String(err);
    if (this.stop) return { status: this.stop.status, finalText: '', turns: 0, error: this.stop.reason };
    if (session.abort.signal.aborted) return { status: 'failed', finalText: '', turns: 0, error: String(session.abort.signal.reason) };
    return { status: 'failed', finalText: '', turns: 0, error: `session worker crashed: ${message.split('\n')[0]}` };
  }

  /** What a session of `role` runs with: its endpoint, the provider instance, its prompt and its tool offer. */
  private sessionSetup(role: Role): { endpoint: RoleEndpoint; provider: ModelProvider; prompt: RolePrompt; offer: ToolOffer } {
    const endpoint = this.endpointFor(role);
    const provider = this.opts.providers.get(endpoint.provider);
    if (!provider) throw new UsageError(`role ${role} runs on provider ${endpoint.provider}, which this run did not set up`);
    const prompt = this.prompts.get(role);
    if (!prompt) throw new UsageError(`the prompt of role ${role} was not loaded for this run`);
    return { endpoint, provider, prompt, offer: toolOffer(this.opts.policy, role) };
  }

  /** Refuses (ToolRefusal, audited with the call) a spawn the caller's role or the tree's limits do not allow. */
  private checkSpawn(parent: LiveSession, role: Role): void {
    if (this.stop) throw new ToolFailure(`spawn refused: the run is stopping (${this.stop.reason})`);
    const parentRole = parent.identity.role;
    const spawns = this.opts.policy.spawnsFor(parentRole);
    if (!spawns.includes(role)) {
      throw new ToolRefusal(
        `spawn refused: ${parentRole} sessions may not start ${role} sessions; they may start: ${spawns.join(', ') || 'none'} (roles.${parentRole}.spawns)`,
        'deny', `roles.${parentRole}.spawns`,
      );
    }
    const depth = parent.identity.depth + 1;
    if (depth > this.opts.maxDepth) {
      throw new ToolRefusal(`spawn refused: a child of this session would be at depth ${depth}, over the limit of ${this.opts.maxDepth} (--max-depth / limits.max_depth); do the work in this session instead`, 'deny', 'limits.max_depth');
    }
    if (this.runningChildren >= this.opts.maxParallel) {
      throw new ToolRefusal(`spawn refused: ${this.runningChildren} child sessions are already running in this tree, the limit is ${this.opts.maxParallel} (--max-parallel / limits.max_parallel); wait for one to finish, then spawn again`, 'deny', 'limits.max_parallel');
    }
  }

  private async spawnChild(parent: LiveSession, req: { role: Role; instructions: string; taskId?: string; chainId?: string }): Promise<ChildReport> {
    this.checkSpawn(parent, req.role);
    const depth = parent.identity.depth + 1;
    this.runningChildren++; // reserved before any await, so parallel spawns count each other
    try {
      const grant = childGrant(this.opts.policy, req.role, depth, this.opts.maxDepth, parent.envelope, REGISTRY);
      const taskId = req.taskId ?? null;
      const chainId = req.chainId ?? parent.identity.chainId ?? null;
      const identity = { id: newSessionId(), role: req.role, depth, parentId: parent.id, rootId: this.rootId, taskId, chainId };
      const first = await this.firstMessage(identity, req.role, req.instructions, taskId ?? undefined, taskId ? chainId ?? undefined : undefined);
      const { session, outcome } = await this.runSession(identity, grant, [{ role: 'user', content: first }]);
      return {
        session_id: session.id,
        status: outcome.status,
        final_text: outcome.finalText,
        files_changed: [...session.filesChanged],
        input_tokens: session.usage.input_tokens,
        output_tokens: session.usage.output_tokens,
        error: outcome.error,
      };
    } finally {
      this.runningChildren--;
    }
  }

  /** The first user message: the session's facts, task or chain context, then the instructions. */
  private async firstMessage(session: { id: string; depth: number }, role: Role, instructions: string, taskId?: string, chainId?: string): Promise<string> {
    const parts: string[] = [sessionFacts(session)];
    if (taskId) {
      const { taskContextForChild } = await import('../../capabilities/tasks/session.js');
      parts.push(await taskContextForChild(this.opts.workspace, taskId, chainId));
    } else if (chainId && role === 'control') {
      const { chainContextForControl } = await import('../../capabilities/tasks/session.js');
      parts.push(await chainContextForControl(this.opts.workspace, chainId));
    }
    parts.push(parts.length > 1 ? `## Instructions\n\n${instructions}` : instructions);
    return parts.join('\n\n');
  }

  // --- tree-wide stops ---------------------------------------------------------

  private stopTree(status: TreeStop['status'], reason: string): void {
    if (this.stop || this.finished) return;
    this.stop = { status, reason };
    const kind = ({ interrupted: 'interrupt', budget_exceeded: 'budget_exceeded', failed: this.configError ? 'config_error' : 'record_failed' } as const)[status];
    this.record({ type: 'notice', session_id: this.rootId, kind, message: reason });
    this.treeAbort.abort(reason);
    for (const s of this.sessions.values()) if (s.status === 'running') s.abort.abort(reason);
    // Sessions stop at their next port message; any still running after the grace are terminated.
    setTimeout(() => { for (const k of this.kills) k.abort(reason); }, HARD_STOP_GRACE_MS).unref();
  }

  // --- records -----------------------------------------------------------------

  private record(event: AuditEvent): void {
    if (!this.audit || this.finished || this.audit.writeFailure) return;
    let line: AuditLine;
    try {
      line = this.audit.append(event);
    } catch (err) {
      this.failRecords(err);
      return;
    }
    this.opts.onEvent?.(line);
  }

  /**
   * An audit or journal line could not be written (a full disk): what runs
   * cannot be recorded, so the whole tree stops and the run fails with the
   * one-line reason. The log itself ends at its last whole line.
   */
  private failRecords(err: unknown): void {
    if (this.recordFailure) return;
    this.recordFailure = err instanceof Error ? err.message : String(err);
    this.stopTree('failed', this.recordFailure);
  }

  private header() {
    return {
      version,
      policy_hash: this.opts.policy.hash,
      policy_file: this.opts.policy.file,
      workspace: this.opts.workspace,
      argv: this.opts.argv,
      sandbox: this.opts.sandbox,
      pid: process.pid,
    };
  }

  private async commitSession(session: LiveSession): Promise<void> {
    if (!this.opts.recordCommits || session.filesChanged.size === 0) return;
    try {
      const { listSessionRefs, recordSessionCommit, sessionRef } = await import('../sessions/commits.js');
      // Asked once per run, before its first commit: a repository without session refs has not seen one explained.
      const firstEver = (this.firstSessionRef ??= listSessionRefs(this.opts.workspace).then((refs) => refs.length === 0, () => false));
      const oid = await recordSessionCommit(this.opts.workspace, {
        sessionId: session.id, role: session.identity.role, parentId: session.identity.parentId,
        files: [...session.filesChanged], message: `choragen ${session.identity.role} session ${session.id}`,
      });
      if (oid) this.record({ type: 'notice', session_id: session.id, kind: 'commit', message: `${sessionRef(session.id)} -> ${oid}` });
      if (oid && (await firstEver) && !this.refsExplained) {
        this.refsExplained = true;
        this.record({ type: 'notice', session_id: session.id, kind: 'commit', message: `each session's changes are kept as a commit on its own ref, refs/choragen/sessions/<id>, outside your branches (\`git show ${sessionRef(session.id)}\`); \`choragen agent:cleanup\` removes old ones` });
      }
    } catch (err) {
      const advice = storageAdvice(errnoCode(err));
      const why = termLine(errnoWords(err));
      this.record({ type: 'notice', session_id: session.id, kind: 'commit', message: `could not record the session commit in .git: ${why}${advice ? `; ${advice}` : ''}` });
    }
  }

  private async ingest(): Promise<void> {
    try {
      const { ingestWorkspace } = await import('../metrics/store.js');
      await ingestWorkspace(this.opts.workspace);
    } catch (err) {
      // Nothing is lost: the audit log is ingested on the next open.
      process.stderr.write(`choragen: metrics not updated yet (${termLine((err as Error).message.split('\n')[0])}); the audit log will be ingested next time\n`);
    }
  }
}

/**
 * Post `message`, or `fallback` when the message cannot be cloned (too deep,
 * uncloneable); false when neither could be posted (the port is gone).
 */
function post(port: MessagePort, message: unknown, fallback: unknown): boolean {
  try {
    port.postMessage(message);
    return true;
  } catch {
    try {
      port.postMessage(fallback);
      return true;
    } catch {
      return false;
    }
  }
}

/** What went wrong, for a reason a session or a model reads: the kind only (a message may name host paths). */
function errorKind(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  return `internal error (${typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown'})`;
}

/** A tool as one session is offered it: its schema may depend on the session (spawn_session's roles). */
function toolSpec(c: Capability, offer: ToolOffer): ToolSpec {
  return { name: c.name, description: c.description, input_schema: offeredInput(c, offer) };
}


function sum(sessions: Map<string, LiveSession>, f: (s: LiveSession) => number): number {
  let total = 0;
  for (const s of sessions.values()) total += f(s);
  return total;
}

/** The providers of a run that uses one: `providers` and `defaults` for BrokerOptions (benchmarks, specs). */
export function singleProvider(provider: ModelProvider, model: string): Pick<BrokerOptions, 'defaults' | 'providers'> {
  return { defaults: { provider: provider.name, model }, providers: new Map([[provider.name, provider]]) };
}

/**
 * A resumed session keeps the grant it was saved with, capped by what the
 * current policy would give it: a policy tightened since (or an edited
 * transcript) never widens it, and a tool that no longer exists is dropped.
 */
function resumedGrant(saved: SavedSession, current: Grant): Grant {
  const tools = saved.tools.filter((t) => current.tools.includes(t));
  return { tools, envelope: new Set(saved.envelope.filter((t) => current.envelope.has(t))) };
}
