// Synthetic audit logs for the metrics and audit specs: written with the real
// AuditLog, with the sums a correct ingest must find.
import { AuditLog } from '../../runtime/audit/log.js';
import type { AuditEvent, SessionEnded, ToolDecision } from '../../runtime/audit/events.js';
import { costOf } from '../../runtime/providers/pricing.js';
import { seededRandom } from '../../bench/stats.js';

export interface ExpectedSession {
  session_id: string;
  parent_id: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  model_calls: number;
  tool_calls: number;
  denials: number;
}

/** A small deterministic generator (the bench's mulberry32), so failures reproduce. */
export const rng = seededRandom;

export const HEADER = (workspace: string, pid = process.pid) => ({
  version: '0.1.0',
  policy_hash: 'f'.repeat(64),
  policy_file: 'choragen.governance.yaml',
  workspace,
  argv: ['agent:start', '--role', 'control'],
  sandbox: 'none' as const,
  pid,
});

export class SyntheticRun {
  readonly log: AuditLog;
  readonly expected = new Map<string, ExpectedSession>();
  private readonly rand: () => number;
  private readonly seqs = new Map<string, { model: number; tool: number }>();

  constructor(workspace: string, readonly rootId: string, opts: { seed?: number; pid?: number; log?: AuditLog } = {}) {
    this.rand = rng(opts.seed ?? 1);
    this.log = opts.log ?? AuditLog.open(workspace, rootId, HEADER(workspace, opts.pid));
  }

  start(sessionId: string, parentId: string | null = null, role: string = parentId ? 'impl' : 'control', provider = 'anthropic'): this {
    this.log.append({
      type: 'session_started',
      session_id: sessionId,
      parent_id: parentId,
      root_id: this.rootId,
      role,
      depth: parentId ? 1 : 0,
      model: 'claude-sonnet-4-5',
      provider,
      task_id: parentId ? 'CHAIN-001/001' : null,
      chain_id: parentId ? 'CHAIN-001' : null,
      started_at: new Date().toISOString(),
      tools: ['read_file', 'write_file'],
    });
    this.expected.set(sessionId, {
      session_id: sessionId,
      parent_id: parentId,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      cost_usd: 0,
      model_calls: 0,
      tool_calls: 0,
      denials: 0,
    });
    this.seqs.set(sessionId, { model: 0, tool: 0 });
    return this;
  }

  modelCall(sessionId: string): this {
    const usage = {
      input_tokens: 1 + Math.floor(this.rand() * 5000),
      output_tokens: Math.floor(this.rand() * 800),
      cache_read_tokens: Math.floor(this.rand() * 3000),
      cache_write_tokens: Math.floor(this.rand() * 400),
    };
    const cost = costOf('claude-sonnet-4-5', usage);
    const seq = ++this.seqs.get(sessionId)!.model;
    this.log.append({
      type: 'model_call',
      session_id: sessionId,
      seq,
      started_at: new Date().toISOString(),
      duration_ms: 100 + this.rand() * 900,
      model: 'claude-sonnet-4-5',
      ...usage,
      cost_usd: cost,
      stop_reason: 'tool_use',
      retries: 0,
    });
    const e = this.expected.get(sessionId)!;
    e.input_tokens += usage.input_tokens;
    e.output_tokens += usage.output_tokens;
    e.cache_read_tokens += usage.cache_read_tokens;
    e.cache_write_tokens += usage.cache_write_tokens;
    e.cost_usd += cost;
    e.model_calls += 1;
    return this;
  }

  toolCall(sessionId: string, tool = 'read_file', decision: ToolDecision = 'allow', path: string | null = 'src/index.ts'): this {
    const seq = ++this.seqs.get(sessionId)!.tool;
    const denied = decision === 'deny' || decision === 'rejected' || decision === 'invalid';
    this.log.append({
      type: 'tool_call',
      session_id: sessionId,
      seq,
      tool,
      tool_use_id: `toolu_${sessionId}_${seq}`,
      started_at: new Date().toISOString(),
      duration_ms: this.rand() * 2,
      decision,
      rule: denied ? 'roles.impl.deny[0]' : 'roles.impl.allow[0]',
      path,
      is_error: denied,
      error: denied ? `${path ?? tool} is denied by roles.impl.deny[0]` : null,
    });
    const e = this.expected.get(sessionId)!;
    e.tool_calls += 1;
    if (denied) e.denials += 1;
    return this;
  }

  end(sessionId: string, status: SessionEnded['status'] = 'completed', finalText = `done: ${sessionId}`, error: string | null = null): this {
    this.log.append({
      type: 'session_ended',
      session_id: sessionId,
      status,
      ended_at: new Date().toISOString(),
      duration_ms: 1234.5,
      error,
      final_text: finalText,
      files_changed: ['src/index.ts'],
    });
    return this;
  }

  append(event: AuditEvent): this {
    this.log.append(event);
    return this;
  }

  close(): void {
    this.log.close();
  }

  totals(): Omit<ExpectedSession, 'session_id' | 'parent_id'> {
    const t = { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0, model_calls: 0, tool_calls: 0, denials: 0 };
    for (const e of this.expected.values()) {
      for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += e[k];
    }
    return t;
  }
}

/** A typical run: a control session that spawns two impl sessions, with calls and a denial. */
export function typicalRun(workspace: string, rootId: string, seed = 7): SyntheticRun {
  const run = new SyntheticRun(workspace, rootId, { seed });
  const c1 = `${rootId}-c1`;
  const c2 = `${rootId}-c2`;
  run.start(rootId).modelCall(rootId).toolCall(rootId, 'task_list').toolCall(rootId, 'spawn_impl_session', 'allow', null);
  run.start(c1, rootId).modelCall(c1).toolCall(c1, 'read_file').toolCall(c1, 'write_file', 'allow', 'src/a.ts');
  run.start(c2, rootId).modelCall(c2).toolCall(c2, 'read_file', 'deny', '.env').modelCall(c2).toolCall(c2, 'edit_file', 'allow', 'src/b.ts');
  run.modelCall(c1).end(c1, 'completed', 'wrote src/a.ts');
  run.modelCall(c2).end(c2, 'failed', 'could not finish', 'tool error: old_string not found');
  run.modelCall(rootId).end(rootId, 'completed', 'all tasks done');
  return run;
}
