// How many tokens a model's context window holds (prompt and answer
// together): one table, keyed and matched like the price table. The broker
// compacts a session's conversation before a request would not fit
// (runtime/broker/context-fit.ts); `--context-window TOKENS` overrides.
import { modelTable } from './pricing.js';

/** Keyed by model family as the providers name them; dated or suffixed ids match by prefix. */
export const CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  // Every Claude model since Claude 2.1 holds 200,000 tokens (1M for some only behind a beta header choragen does not send).
  claude: 200_000,
  'gpt-5': 400_000,
  'gpt-4.1': 1_047_576,
  'gpt-4o': 128_000,
  'gpt-4-turbo': 128_000,
  o1: 200_000,
  'o1-mini': 128_000,
  o3: 200_000,
  'o4-mini': 200_000,
};

/**
 * The window assumed for a model this table does not know: small enough for
 * most models an OpenAI-compatible endpoint serves, so an unknown model gets
 * compacted early rather than refused. The run says so once.
 */
export const DEFAULT_CONTEXT_WINDOW = 32_000;

const lookup = modelTable(CONTEXT_WINDOWS);

export interface ContextWindow {
  tokens: number;
  /** Where the figure comes from. */
  source: 'flag' | 'table' | 'default';
}

export function contextWindowOf(model: string, override?: number): ContextWindow {
  if (override !== undefined) return { tokens: override, source: 'flag' };
  const known = lookup(model);
  return known !== null ? { tokens: known, source: 'table' } : { tokens: DEFAULT_CONTEXT_WINDOW, source: 'default' };
}
