// A model of Anthropic's prompt cache, for the fake server: which part of a
// request is read from the cache, which part is written to it, which part is
// billed uncached. Pure (the clock is injected); the server owns one per run.
//
// The prompt is a sequence of blocks in the order the API renders it: each tool
// definition, each system text block, each content block of each message (a
// string is one text block). A block carrying `cache_control` is a breakpoint.
//
// Tokens are estimated from bytes: a block costs ceil(bytes / 4) of its
// canonical JSON (keys sorted, `cache_control` removed at any depth), so moving
// a breakpoint never changes a count or a hash.
//
// On a request, each breakpoint looks for the longest prefix an earlier request
// wrote (same model), ending at the breakpoint itself or at one of the
// LOOKBACK_BLOCKS block boundaries before it; the longest of these is read.
// Every breakpoint's prefix of at least `minTokens` is then written (or its
// lifetime refreshed), and the tokens between the hit and the last breakpoint
// are billed as the write. Everything else is the uncached remainder.

import { createHash } from 'node:crypto';

export const MAX_BREAKPOINTS = 4;
export const MIN_CACHEABLE_TOKENS = 1024;
export const LOOKBACK_BLOCKS = 20;
const TTL_MS: Record<string, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };

export interface PromptBlock {
  tokens: number;
  /** Hash of the whole prefix through this block (cache_control ignored). */
  prefixHash: string;
  /** Lifetime this block asks for when it is a breakpoint; null when it is not one. */
  breakpointTtlMs: number | null;
}

/** The input side of Anthropic's usage. */
export interface CacheUsage {
  input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** What the estimate is computed from: an Anthropic Messages request body. */
export interface PromptParts {
  tools?: unknown;
  system?: unknown;
  messages?: unknown;
}

export function estimateTokens(value: unknown): number {
  return Math.ceil(Buffer.byteLength(canonicalJson(value), 'utf8') / 4);
}

/** The request as the cache sees it, block by block, in render order. */
export function promptBlocks(body: PromptParts): PromptBlock[] {
  const placed: Array<{ where: string; block: unknown }> = [];
  for (const tool of asList(body.tools)) placed.push({ where: 'tool', block: tool });
  for (const block of asBlocks(body.system)) placed.push({ where: 'system', block });
  asList(body.messages).forEach((message, i) => {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    // the message index and role are part of the position: the same blocks split differently are another prompt
    for (const block of asBlocks(content)) placed.push({ where: `message ${i} ${String(role)}`, block });
  });
  let prefixHash = '';
  return placed.map(({ where, block }) => {
    const json = canonicalJson(block);
    prefixHash = createHash('sha256').update(prefixHash).update('\n').update(where).update('\n').update(json).digest('hex');
    return { tokens: Math.ceil(Buffer.byteLength(json, 'utf8') / 4), prefixHash, breakpointTtlMs: breakpointTtl(block) };
  });
}

export function promptTokens(blocks: PromptBlock[]): number {
  return blocks.reduce((n, b) => n + b.tokens, 0);
}

export function breakpointCount(blocks: PromptBlock[]): number {
  return blocks.filter((b) => b.breakpointTtlMs !== null).length;
}

export interface PromptCacheOptions {
  /** Shortest prefix that is cached (default 1,024 tokens, as for Sonnet and Opus). */
  minTokens?: number;
  /** Clock in ms (default Date.now), so a spec can let entries expire. */
  now?: () => number;
}

export class PromptCache {
  /** `${model}\0${prefixHash}` -> when the entry expires, and the lifetime a use renews */
  private readonly entries = new Map<string, { expiresAt: number; ttlMs: number }>();
  private readonly minTokens: number;
  private readonly now: () => number;

  constructor(opts: PromptCacheOptions = {}) {
    this.minTokens = opts.minTokens ?? MIN_CACHEABLE_TOKENS;
    this.now = opts.now ?? Date.now;
  }

  /** Read and write the cache for one answered request; the usage split it is billed at. */
  use(model: string, blocks: PromptBlock[]): CacheUsage {
    const now = this.now();
    const key = (i: number) => `${model}\0${blocks[i]!.prefixHash}`;
    const upTo: number[] = [];
    blocks.reduce((n, b, i) => (upTo[i] = n + b.tokens), 0);
    const breakpoints = blocks.flatMap((b, i) => (b.breakpointTtlMs === null ? [] : [i]));

    let hit = -1;
    for (const p of breakpoints) {
      for (let j = p; j >= Math.max(0, p - LOOKBACK_BLOCKS) && j > hit; j--) {
        if ((this.entries.get(key(j))?.expiresAt ?? -Infinity) > now) {
          hit = j;
          break;
        }
      }
    }
    if (hit >= 0) {
      const entry = this.entries.get(key(hit))!;
      entry.expiresAt = now + entry.ttlMs; // a read renews the lifetime
    }
    for (const p of breakpoints) {
      const ttlMs = blocks[p]!.breakpointTtlMs!;
      if (upTo[p]! >= this.minTokens) this.entries.set(key(p), { expiresAt: now + ttlMs, ttlMs });
    }
    const read = hit >= 0 ? upTo[hit]! : 0;
    const last = breakpoints.at(-1);
    const written = last !== undefined && last > hit && upTo[last]! >= this.minTokens ? upTo[last]! - read : 0;
    return { input_tokens: promptTokens(blocks) - read - written, cache_read_input_tokens: read, cache_creation_input_tokens: written };
  }
}

/**
 * What the input cost, as a fraction of sending it all uncached: writes bill
 * at 1.25x, reads at 0.1x, the uncached remainder at 1x (5-minute cache
 * prices). 1 when there was no input at all.
 */
export function billedInputRatio(usages: Iterable<CacheUsage>): number {
  let billed = 0;
  let uncached = 0;
  for (const u of usages) {
    billed += u.input_tokens + 1.25 * u.cache_creation_input_tokens + 0.1 * u.cache_read_input_tokens;
    uncached += u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  }
  return uncached === 0 ? 1 : billed / uncached;
}

// --- canonical form -------------------------------------------------------------

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Content as blocks: a string is one text block, as the API treats it. */
function asBlocks(content: unknown): unknown[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return asList(content);
}

function breakpointTtl(block: unknown): number | null {
  const control = (block as { cache_control?: { ttl?: unknown } } | null)?.cache_control;
  if (!control || typeof control !== 'object') return null;
  return TTL_MS[String(control.ttl ?? '5m')] ?? TTL_MS['5m']!;
}

/** JSON with sorted keys and no `cache_control`, so equal content hashes equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (key, v) => {
    if (key === 'cache_control') return undefined;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  }) ?? 'null';
}
