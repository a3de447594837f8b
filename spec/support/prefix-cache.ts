// OpenAI's automatic prompt caching, for the fake OpenAI server. There are no
// breakpoints: a request reads the longest prefix that an earlier request to
// the same model sent, once that prefix holds at least 1,024 tokens, counted
// in steps of 128 tokens; the API reports it as
// `prompt_tokens_details.cached_tokens`, a part of `prompt_tokens`.
//
// The prompt is read as the tool definitions, then each message whole, in
// order; a prefix ends at one of them. Tokens are counted as the fake counts
// a prompt (estimateTokens: ceil(bytes / 4) of canonical JSON), so
// cached_tokens <= prompt_tokens always.
import { createHash } from 'node:crypto';
import { canonicalJson, estimateTokens, MIN_CACHEABLE_TOKENS } from './prompt-cache.js';

export const CACHE_STEP_TOKENS = 128;

export class PrefixCache {
  /** `${model}\0${prefixHash}` of every prefix sent. */
  private readonly seen = new Set<string>();

  /** The tokens of this request read from the cache; its own prefixes are remembered for the next. */
  use(model: string, body: { tools?: unknown; messages?: unknown }): number {
    const items = [...asList(body.tools), ...asList(body.messages)];
    let hash = '';
    let tokens = 0;
    let read = 0;
    const keys: string[] = [];
    for (const item of items) {
      hash = createHash('sha256').update(hash).update('\n').update(canonicalJson(item)).digest('hex');
      tokens += estimateTokens(item);
      const key = `${model}\0${hash}`;
      if (this.seen.has(key)) read = tokens;
      keys.push(key);
    }
    for (const key of keys) this.seen.add(key);
    return read >= MIN_CACHEABLE_TOKENS ? read - (read % CACHE_STEP_TOKENS) : 0;
  }
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
