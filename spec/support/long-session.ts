// A long, tool-heavy impl session, generated: a workspace of source files of
// about 1,500 tokens each and a script that reads one per turn, then ends.
// Used by the long-session specs and by the bench (cache_billed_ratio,
// compactions_120_turns_60k), so both measure the same conversation.
import type { Script, ScriptTurn } from '../../runtime/providers/script/format.js';

export interface LongSession {
  /** Workspace-relative path -> content. */
  files: Record<string, string>;
  script: Script;
  /** The first message that picks this script session (`match`). */
  message: string;
  /** Model turns the session takes: one read per file, then the final answer. */
  turns: number;
}

/** About 6,000 bytes of TypeScript: ~1,500 tokens at 4 bytes a token. */
export function sourceFile(n: number, bytes = 6000): string {
  let text = `// module ${n}: generated for a long-session test\n`;
  for (let j = 0; text.length < bytes; j++) {
    text += `export function step${n}_${j}(input: number[]): number {\n  return input.reduce((sum, x, i) => sum + x * ${j + 1} - i, ${n});\n}\n`;
  }
  return text;
}

export const LONG_SESSION_MATCH = 'Read every module under src/long';

/**
 * `reads` read_file turns and a closing text turn. `extra` turns (given by
 * turn index) replace the read at that index, e.g. a turn that fails.
 */
export function longSession(reads: number, opts: { extra?: Record<number, Partial<ScriptTurn>>; fileBytes?: number } = {}): LongSession {
  const files: Record<string, string> = {};
  const pathOf = (i: number) => `src/long/m${String(i).padStart(3, '0')}.ts`;
  const turns: ScriptTurn[] = [];
  for (let i = 0; i < reads; i++) {
    files[pathOf(i)] = sourceFile(i, opts.fileBytes);
    turns.push({ content: [{ type: 'tool_use', name: 'read_file', input: { path: pathOf(i) } }], ...opts.extra?.[i] });
  }
  turns.push({ content: [{ type: 'text', text: `Read ${reads} modules.` }] });
  return {
    files,
    script: { sessions: [{ role: 'impl', match: LONG_SESSION_MATCH, turns }] },
    message: `${LONG_SESSION_MATCH}, one file per turn, then say how many you read.`,
    turns: reads + 1,
  };
}
