// What a person sees while a run goes on. --json: one JSON event per line on
// stdout. On a terminal: a live tree of sessions on stderr (role, status,
// model calls, tool calls, tokens) with refusals and notices scrolling above
// it. Otherwise: one plain line per notable event.
import type { AuditLine } from '../audit/events.js';

export type ProgressMode = 'json' | 'live' | 'lines' | 'quiet';

interface Row {
  id: string; parent: string | null; role: string; depth: number; status: string;
  modelCalls: number; toolCalls: number; inTok: number; outTok: number;
}

export interface RunSummary {
  status: string; exitCode: number; rootId: string; durationMs: number;
  inputTokens: number; outputTokens: number; costUsd: number; sessions: number; error: string | null;
}

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private readonly order: string[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  private frozen = false;

  constructor(private readonly mode: ProgressMode, private readonly err: NodeJS.WritableStream = process.stderr,
    private readonly out: NodeJS.WritableStream = process.stdout) {}

  onEvent = (line: AuditLine): void => {
    if (this.mode === 'json') {
      const { prev: _p, ...event } = line as AuditLine & Record<string, unknown>;
      this.out.write(JSON.stringify({ event: line.type, ...event, type: undefined }) + '\n');
      return;
    }
    this.track(line);
    const note = notable(line);
    if (this.mode === 'lines' && note) this.err.write(note + '\n');
    if (this.mode === 'live' && !this.frozen) {
      if (note) this.scroll(note);
      this.schedule();
    }
  };

  /** Draw the tree one last time and stop redrawing (output may follow it). */
  freeze(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.mode === 'live' && !this.frozen) this.render();
    this.frozen = true;
    this.drawn = 0;
  }

  finish(summary: RunSummary): void {
    this.freeze();
    if (this.mode === 'json') {
      this.out.write(JSON.stringify({ event: 'run_finished', root_id: summary.rootId, status: summary.status, exit_code: summary.exitCode,
        duration_ms: Math.round(summary.durationMs), input_tokens: summary.inputTokens, output_tokens: summary.outputTokens,
        cost_usd: summary.costUsd, sessions: summary.sessions, error: summary.error }) + '\n');
      return;
    }
    if (this.mode !== 'quiet') this.err.write(finalLine(summary) + '\n');
  }

  /** The session tree as text (also used by the demo after the run). */
  tree(): string[] {
    const lines: string[] = [];
    const visit = (id: string, prefix: string, last: boolean, root: boolean) => {
      const r = this.rows.get(id)!;
      const branch = root ? '' : last ? '└─ ' : '├─ ';
      lines.push(`${prefix}${branch}${r.role.padEnd(7)} ${r.id}  ${statusMark(r.status)} ${r.status.padEnd(15)} model ${r.modelCalls}  tools ${r.toolCalls}  tokens ${r.inTok}/${r.outTok}`);
      const kids = this.order.filter((k) => this.rows.get(k)!.parent === id);
      kids.forEach((k, i) => visit(k, root ? '' : prefix + (last ? '   ' : '│  '), i === kids.length - 1, false));
    };
    for (const id of this.order) if (!this.rows.get(id)!.parent || !this.rows.has(this.rows.get(id)!.parent!)) visit(id, '', true, true);
    return lines;
  }

  private track(line: AuditLine): void {
    switch (line.type) {
      case 'session_started':
        this.rows.set(line.session_id, { id: line.session_id, parent: line.parent_id, role: line.role, depth: line.depth, status: 'running', modelCalls: 0, toolCalls: 0, inTok: 0, outTok: 0 });
        this.order.push(line.session_id);
        break;
      case 'model_call': {
        const r = this.rows.get(line.session_id);
        if (r) { r.modelCalls++; r.inTok += line.input_tokens + line.cache_read_tokens + line.cache_write_tokens; r.outTok += line.output_tokens; }
        break;
      }
      case 'tool_call': {
        const r = this.rows.get(line.session_id);
        if (r) r.toolCalls++;
        break;
      }
      case 'session_ended': {
        const r = this.rows.get(line.session_id);
        if (r) r.status = line.status;
        break;
      }
    }
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.render(); }, 80);
  }

  private clear(): void {
    if (this.drawn) this.err.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private scroll(text: string): void {
    this.clear();
    this.err.write(text + '\n');
    this.render();
  }

  private render(): void {
    this.clear();
    const lines = this.tree();
    if (lines.length) this.err.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

function statusMark(status: string): string {
  return ({ running: '…', completed: '✓', failed: '✗', interrupted: '■', budget_exceeded: '$' } as Record<string, string>)[status] ?? '?';
}

function notable(line: AuditLine): string | null {
  const who = line.session_id;
  switch (line.type) {
    case 'session_started': return `▶ ${line.role} session ${who} started${line.parent_id ? ` (child of ${line.parent_id}, depth ${line.depth})` : ''}`;
    case 'session_ended': return `■ ${who} ${line.status}${line.error ? `: ${line.error}` : ''}`;
    case 'tool_call':
      if (line.command !== undefined) return commandNote(who, line);
      if (line.decision === 'allow' || line.decision === 'approved') return line.is_error ? `  ${who} ${line.tool} failed: ${line.error}` : null;
      return `✗ ${who} ${line.tool} ${line.decision}${line.rule ? ` by ${line.rule}` : ''}${line.path ? ` on ${line.path}` : ''}`;
    case 'approval': return `? ${who} ${line.tool} on ${line.path}: approval ${line.answer} (${line.by})`;
    case 'notice': return `! ${line.message}`;
    default: return null;
  }
}

/** A command a session ran or was refused (run_command), on one line: the command is already shell-quoted with escapes. */
function commandNote(who: string, line: Extract<AuditLine, { type: 'tool_call' }>): string {
  const refused = line.decision !== 'allow' && line.decision !== 'approved';
  if (line.is_error) return refused ? `✗ ${who} $ ${line.command} ${line.decision}${line.rule ? ` by ${line.rule}` : ''}` : `  ${who} $ ${line.command} failed: ${line.error}`;
  const ended = line.exit_code === null || line.exit_code === undefined ? 'stopped' : `exit ${line.exit_code}`;
  return `${refused ? '✗' : ' '} ${who} $ ${line.command} → ${ended}${refused ? ` · changes not kept (${line.rule}): ${line.path}` : ''}`;
}

export function finalLine(s: RunSummary): string {
  const secs = (s.durationMs / 1000).toFixed(1);
  return `${s.status} in ${secs}s · ${s.sessions} session${s.sessions === 1 ? '' : 's'} · tokens ${s.inputTokens} in / ${s.outputTokens} out · cost $${s.costUsd.toFixed(4)} · root ${s.rootId}` +
    (s.error && s.status !== 'completed' ? ` · ${s.error}` : '');
}
