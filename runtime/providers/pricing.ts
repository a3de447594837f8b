// What a model call costs, in USD. One table, per million tokens:
// input, output, cache write and cache read, as published for the Anthropic
// API (cache write 1.25 × input for the 5-minute TTL, cache read 0.1 × input)
// and the OpenAI API (cached input at its own rate; no cache writes are billed
// or reported, so their rate is the input's). Only models served through
// Chat Completions are listed (the -pro models are Responses-only).
//
// Unknown models are priced at FALLBACK_PRICE, the most expensive rate in the
// table (Opus 4 / 4.1): a model this table does not know can then only make a
// budget (--max-cost) stop early, never let it overspend. Use isKnownModel()
// to warn about it.
import type { Usage } from './provider.js';

export interface Price {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

const rate = (input: number, output: number): Price => ({
  input,
  output,
  cache_write: input * 1.25,
  cache_read: input / 10,
});

/** OpenAI's: input, cached input, output. */
const openai = (input: number, cachedInput: number, output: number): Price => ({ input, output, cache_write: input, cache_read: cachedInput });

/** Keyed by model family as the API names it; dated ids (claude-sonnet-4-5-20250929) match by prefix. */
export const PRICES: Readonly<Record<string, Price>> = {
  // claude-sonnet-5: not in Anthropic's price list when this table was written; priced as Sonnet 4.5.
  'claude-sonnet-5': rate(3, 15),
  'claude-sonnet-4-5': rate(3, 15),
  'claude-sonnet-4': rate(3, 15),
  'claude-3-7-sonnet': rate(3, 15),
  'claude-3-5-sonnet': rate(3, 15),
  'claude-opus-4-6': rate(5, 25),
  'claude-opus-4-5': rate(5, 25),
  'claude-opus-4-1': rate(15, 75),
  'claude-opus-4': rate(15, 75),
  'claude-3-opus': rate(15, 75),
  'claude-haiku-4-5': rate(1, 5),
  'claude-3-5-haiku': rate(0.8, 4),
  'claude-3-haiku': rate(0.25, 1.25),
  'gpt-5.1': openai(1.25, 0.125, 10),
  'gpt-5': openai(1.25, 0.125, 10),
  'gpt-5-mini': openai(0.25, 0.025, 2),
  'gpt-5-nano': openai(0.05, 0.005, 0.4),
  'gpt-4.1': openai(2, 0.5, 8),
  'gpt-4.1-mini': openai(0.4, 0.1, 1.6),
  'gpt-4.1-nano': openai(0.1, 0.025, 0.4),
  'gpt-4o': openai(2.5, 1.25, 10),
  'gpt-4o-mini': openai(0.15, 0.075, 0.6),
  'o3': openai(2, 0.5, 8),
  'o3-mini': openai(1.1, 0.55, 4.4),
  'o4-mini': openai(1.1, 0.275, 4.4),
};

/** The price of a model this table does not know: the highest in the table (Opus 4 / 4.1). */
export const FALLBACK_PRICE: Price = rate(15, 75);

// Longest key first, so claude-opus-4-5-... matches 'claude-opus-4-5' before 'claude-opus-4'.
const KEYS = Object.keys(PRICES).sort((a, b) => b.length - a.length);
const cache = new Map<string, Price | null>();

/** Strips provider prefixes ("anthropic/", "us.anthropic.") and suffixes ("@2025…", "-latest", "-v1:0"). */
function normalize(model: string): string {
  let m = model.trim().toLowerCase();
  m = m.replace(/^(?:[a-z]+\/)+/, '').replace(/^(?:[a-z]{2}\.)?anthropic\./, '');
  return m.replace(/@.*$/, '').replace(/-latest$/, '');
}

function lookup(model: string): Price | null {
  let hit = cache.get(model);
  if (hit !== undefined) return hit;
  const m = normalize(model);
  // A key matches the whole id or a prefix ending at a '-' (claude-opus-4 must not match claude-opus-45).
  const key = KEYS.find((k) => m === k || (m.startsWith(k) && m[k.length] === '-'));
  hit = key ? PRICES[key] : null;
  cache.set(model, hit);
  return hit;
}

export function isKnownModel(model: string): boolean {
  return lookup(model) !== null;
}

export function priceOf(model: string): Price {
  return lookup(model) ?? FALLBACK_PRICE;
}

/** USD for one call's usage. */
export function costOf(model: string, usage: Usage): number {
  const p = priceOf(model);
  return (
    (usage.input_tokens * p.input +
      usage.output_tokens * p.output +
      usage.cache_write_tokens * p.cache_write +
      usage.cache_read_tokens * p.cache_read) /
    1_000_000
  );
}
