// What a person sees while a run goes on. --json: one JSON event per line on
// stdout. On a terminal: a live tree of sessions on stderr (role, status,
// model calls, tool calls, tokens) with refusals and notices scrolling above
// it; the tree fits half the screen (see session-tree.ts), follows resizes, and
// steps aside while an approval question is open. Otherwise: one plain line
// per notable event. Every name, path, error and message a model or a file
// supplied goes through the terminal sanitizer.
import type { AuditLine } from '../audit/events.js';
import type { PromptHost } from '../broker/approver.js';
import { count } from '../metrics/format.js';
import { termLine } from '../terminal/text.js';
import { rowsOf } from '../terminal/width.js';
import { type TreeRow, treeLines } from './session-tree.js';

export type ProgressMode = 'json' | 'live' | 'lines' | 'quiet';

export interface RunSummary {
  status: string; exitCode: number; rootId: string; durationMs: number;
  inputTokens: number; outputTokens: number; costUsd: number; sessions: number; error: string | null;
  cacheReadTokens?: number; cacheWriteTokens?: number;
}

type Terminal = NodeJS.WritableStream & { columns?: number; rows?: number; on?: NodeJS.WritableStream['on']; off?: NodeJS.WritableStream['off'] };

/** Notes that wait while a question is open; past this many only their number is kept. */
const MAX_HELD_NOTES = 200;

export class ProgressView implements PromptHost {
  private readonly rows = new Map<string, TreeRow>();
  private readonly order: string[] = [];
  /** The lines of the tree now on the screen, to erase them at the current width. */
  private drawn: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private frozen = false;
  private paused = false;
  private held: string[] = [];
  private heldDropped = 0;
  /** Set while asking the tty its size, which may emit 'resize' from within a redraw. */
  private syncing = false;
  private readonly err: Terminal;

  constructor(private readonly mode: ProgressMode, err: NodeJS.WritableStream = process.stderr,
    private readonly out: NodeJS.WritableStream = process.stdout, private readonly redrawMs = 80) {
    this.err = err as Terminal;
    if (mode === 'live') this.err.on?.('resize', this.onResize);
  }

  onEvent = (line: AuditLine): void => {
    if (this.mode === 'json') {
      const { prev: _p, ...event } = line as AuditLine & Record<string, unknown>;
      this.out.write(JSON.stringify({ event: line.type, ...event, type: undefined }) + '\n');
      return;
    }
    this.track(line);
    const note = notable(line);
    if (note) this.note(note);
    if (this.mode === 'live' && !this.frozen && !this.paused) this.schedule();
  };

  /** A streamed answer is arriving: the live tree shows its tokens so far. */
  onProgress = (sessionId: string, outputTokens: number): void => {
    const r = this.rows.get(sessionId);
    if (this.mode !== 'live' || this.frozen || !r) return;
    r.receiving = outputTokens;
    if (!this.paused) this.schedule();
  };

  /** A line of the run's own (a signal, a warning): above the tree, like a note. */
  print(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') this.err.write(`${text}\n`);
    else this.note(text);
  }

  /** A question is about to be asked on the terminal: take the tree away and draw nothing until resume(). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.cancelTimer();
    if (this.mode === 'live' && !this.frozen) this.clear();
  }

  /** The question is answered: show what happened meanwhile, then the tree. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    const dropped = this.heldDropped;
    this.held = [];
    this.heldDropped = 0;
    if (dropped) held.push(`… and ${dropped} more event${dropped === 1 ? '' : 's'} while the question was open (see agent:show)`);
    for (const note of held) this.note(note);
    if (this.mode === 'live' && !this.frozen) this.render();
  }

  /** Draw the whole tree one last time and stop redrawing (output may follow it). */
  freeze(): void {
    this.cancelTimer();
    if (this.mode === 'live' && !this.frozen) {
      this.paused = false;
      this.clear();
      const lines = treeLines(this.rowList(), { columns: this.columns() });
      if (lines.length) this.err.write(lines.join('\n') + '\n');
      this.err.off?.('resize', this.onResize);
    }
    this.frozen = true;
    this.drawn = [];
  }

  finish(summary: RunSummary): void {
    this.freeze();
    if (this.mode === 'json') {
      this.out.write(JSON.stringify({ event: 'run_finished', root_id: summary.rootId, status: summary.status, exit_code: summary.exitCode,
        duration_ms: Math.round(summary.durationMs), input_tokens: summary.inputTokens, output_tokens: summary.outputTokens,
        cache_read_tokens: summary.cacheReadTokens ?? 0, cache_write_tokens: summary.cacheWriteTokens ?? 0, cost_usd: summary.costUsd, sessions: summary.sessions, error: summary.error }) + '\n');
      return;
    }
    if (this.mode !== 'quiet') this.err.write(finalLine(summary) + '\n');
  }

  /** The session tree as text, whole (also used by the demo after the run). */
  tree(): string[] {
    return treeLines(this.rowList());
  }

  private rowList(): TreeRow[] {
    return this.order.map((id) => this.rows.get(id)!);
  }

  private track(line: AuditLine): void {
    switch (line.type) {
      case 'session_started':
        this.rows.set(line.session_id, { id: line.session_id, parent: line.parent_id, role: line.role, status: 'running', modelCalls: 0, toolCalls: 0, inTok: 0, outTok: 0, receiving: 0 });
        this.order.push(line.session_id);
        break;
      case 'model_call': {
        const r = this.rows.get(line.session_id);
        if (r) { r.receiving = 0; r.modelCalls++; r.inTok += line.input_tokens + line.cache_read_tokens + line.cache_write_tokens; r.outTok += line.output_tokens; }
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

  private note(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    if (this.paused) {
      if (this.held.length < MAX_HELD_NOTES) this.held.push(text);
      else this.heldDropped++;
      return;
    }
    if (this.mode === 'lines' || this.frozen) {
      this.err.write(text + '\n');
      return;
    }
    this.clear();
    this.err.write(text + '\n');
    this.render();
  }

  private readonly onResize = (): void => {
    if (this.frozen || this.paused || this.syncing) return;
    this.clear();
    this.render();
  };

  /**
   * Ask the tty for its size now: the terminal may have been resized (and
   * have reflowed the tree) before this process handled SIGWINCH, and
   * erasing by the old width would leave part of the tree behind.
   */
  private syncSize(): void {
    const tty = this.err as { _refreshSize?: () => void };
    if (typeof tty._refreshSize !== 'function') return;
    this.syncing = true;
    try {
      tty._refreshSize();
    } catch {
      // the size stays as last known
    } finally {
      this.syncing = false;
    }
  }

  private columns(): number {
    return this.err.columns && this.err.columns > 0 ? this.err.columns : 80;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.render(); }, this.redrawMs);
  }

  /**
   * Erase the tree: as many rows as its lines take at today's width (a
   * terminal reflows them on a resize), row by row, leaving the cursor where
   * the tree began. Not "erase below" (ESC [ J): from the top-left corner that
   * clears the whole screen, which tmux and others first push into the
   * scrollback, leaving a copy of the tree there at every redraw.
   */
  private clear(): void {
    this.syncSize();
    const columns = this.columns();
    const rows = this.drawn.reduce((n, line) => n + rowsOf(line, columns), 0);
    if (rows) this.err.write(`\r\x1b[${rows}A${'\x1b[2K\x1b[1B'.repeat(rows - 1)}\x1b[2K${rows > 1 ? `\x1b[${rows - 1}A` : ''}`);
    this.drawn = [];
  }

  private render(): void {
    if (this.paused || this.frozen) return;
    this.clear();
    const height = this.err.rows && this.err.rows > 0 ? this.err.rows : 24;
    const lines = treeLines(this.rowList(), { columns: this.columns(), maxLines: liveTreeLines(height) });
    if (lines.length) this.err.write(lines.join('\n') + '\n');
    this.drawn = lines;
  }
}

/**
 * The most lines the live tree may take on a screen of `rows`: half of it,
 * less a row for the cursor and one for a note. A terminal made narrower
 * rewraps the tree before this process hears of it, and rows it pushes off the
 * top are beyond any erase; at half the screen the tree still fits after a
 * narrowing to half the width (every line two rows) or a shorter window.
 */
function liveTreeLines(rows: number): number {
  return Math.max(3, Math.floor((rows - 2) / 2));
}

function notable(line: AuditLine): string | null {
  const who = termLine(line.session_id);
  switch (line.type) {
    case 'session_started': return `▶ ${termLine(line.role)} session ${who} started${line.parent_id ? ` by ${termLine(line.parent_id)}` : ''}`;
    case 'session_ended': return `■ ${who} ${line.status}${line.error ? `: ${termLine(line.error)}` : ''}`;
    case 'tool_call':
      if (line.command !== undefined) return commandNote(who, line);
      if (line.decision === 'allow' || line.decision === 'approved') return line.is_error ? `  ${who} ${line.error?.startsWith(`${line.tool} `) ? '' : `${termLine(line.tool)} failed: `}${termLine(line.error)}` : null;
      // A refusal with the reason the model was given, which names the rule (a tool the session lacks: just that).
      if (line.rule === 'grants') return `✗ ${who} ${termLine(line.tool)}: not granted to this session`;
      if (line.error) return `✗ ${who} ${termLine(line.tool)}: ${termLine(line.error)}${line.rule && !line.error.includes(line.rule) ? ` (rule ${termLine(line.rule)})` : ''}`;
      return `✗ ${who} ${termLine(line.tool)} ${line.decision}${line.rule ? ` by ${termLine(line.rule)}` : ''}${line.path ? ` on ${termLine(line.path)}` : ''}`;
    case 'approval': return `? ${who} ${termLine(line.tool)} on ${termLine(line.path)}: approval ${line.answer} (${line.by})`;
    case 'notice': return `! ${termLine(line.message)}`;
    default: return null;
  }
}

/** A command a session ran or was refused (run_command), on one line: the command is already shell-quoted with escapes. */
function commandNote(who: string, line: Extract<AuditLine, { type: 'tool_call' }>): string {
  const refused = line.decision !== 'allow' && line.decision !== 'approved';
  const command = termLine(line.command ?? '');
  const rule = line.rule ? termLine(line.rule) : null;
  if (line.is_error) return refused ? `✗ ${who} $ ${command} ${line.decision}${rule ? ` by ${rule}` : ''}` : `  ${who} $ ${command} failed: ${termLine(line.error)}`;
  const ended = line.exit_code === null || line.exit_code === undefined ? 'stopped' : `exit ${line.exit_code}`;
  return `${refused ? '✗' : ' '} ${who} $ ${command} → ${ended}${refused ? ` · changes not kept (${rule}): ${termLine(line.path)}` : ''}`;
}

export function finalLine(s: RunSummary): string {
  const secs = (s.durationMs / 1000).toFixed(1);
  const read = s.cacheReadTokens ?? 0;
  const written = s.cacheWriteTokens ?? 0;
  const prompt = s.inputTokens + read + written;
  // Input is every prompt token, cached or not; the share read from the cache is the cache hit rate
  // (not shown for a provider that reports no caching at all).
  // Counts grouped as metrics:summary prints them: a long session's prompt runs to millions.
  const cache = read + written > 0 ? ` (${Math.round((100 * read) / prompt)}% from cache)` : '';
  return `${s.status} in ${secs}s · ${s.sessions} session${s.sessions === 1 ? '' : 's'} · tokens ${count(prompt)} in${cache} / ${count(s.outputTokens)} out · cost $${s.costUsd.toFixed(4)} · root ${termLine(s.rootId)}` +
    (s.error && s.status !== 'completed' ? ` · ${termLine(s.error)}` : '');
}
