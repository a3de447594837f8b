import { expect } from 'chai';
import { billedInputRatio, estimateTokens, PromptCache, promptBlocks, promptTokens } from './prompt-cache.js';

const EPHEMERAL = { type: 'ephemeral' };
const big = (seed: string) => seed.repeat(Math.ceil(6000 / seed.length)); // ~1,500 tokens

describe('spec/support/prompt-cache', () => {
  it('estimates ceil(bytes / 4) of the canonical JSON, keys sorted and cache_control left out', () => {
    expect(estimateTokens({ type: 'text', text: 'abc' })).to.equal(Math.ceil('{"text":"abc","type":"text"}'.length / 4));
    expect(estimateTokens({ text: 'ü', type: 'text' })).to.equal(Math.ceil(Buffer.byteLength('{"text":"ü","type":"text"}') / 4));
    const blocks = promptBlocks({ system: [{ type: 'text', text: 'abc', cache_control: EPHEMERAL }], messages: [{ role: 'user', content: 'hi' }] });
    expect(blocks.map((b) => b.tokens)).to.deep.equal([estimateTokens({ type: 'text', text: 'abc' }), estimateTokens({ type: 'text', text: 'hi' })]);
    expect(blocks.map((b) => b.breakpointTtlMs)).to.deep.equal([5 * 60_000, null]);
  });

  it('hashes content and position, not key order, string form or breakpoints', () => {
    const a = promptBlocks({ system: 'rules', messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: EPHEMERAL }] }] });
    const b = promptBlocks({ system: [{ text: 'rules', type: 'text' }], messages: [{ role: 'user', content: 'x' }] });
    expect(a.map((x) => x.prefixHash)).to.deep.equal(b.map((x) => x.prefixHash));
    // the same blocks split over two messages, or under another role, are another prompt
    const split = promptBlocks({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'text', text: 'y' }] }] });
    const apart = promptBlocks({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }] });
    expect(split[1]!.prefixHash).not.to.equal(apart[1]!.prefixHash);
  });

  it('lets an entry expire after its lifetime, and a read renews it', () => {
    let now = 0;
    const cache = new PromptCache({ now: () => now });
    const blocks = promptBlocks({ system: [{ type: 'text', text: big('rules '), cache_control: EPHEMERAL }], messages: [{ role: 'user', content: 'go' }] });
    const total = promptTokens(blocks);
    const written = cache.use('m', blocks);
    expect(written.cache_creation_input_tokens).to.equal(blocks[0]!.tokens);
    expect(written.input_tokens).to.equal(total - blocks[0]!.tokens);
    now = 4 * 60_000;
    expect(cache.use('m', blocks).cache_read_input_tokens).to.equal(blocks[0]!.tokens);
    now = 8 * 60_000; // 4 minutes after the read that renewed it
    expect(cache.use('m', blocks).cache_read_input_tokens).to.equal(blocks[0]!.tokens);
    now = 14 * 60_000;
    expect(cache.use('m', blocks)).to.include({ cache_read_input_tokens: 0, cache_creation_input_tokens: blocks[0]!.tokens });
  });

  it('keeps a 1h entry for an hour, and takes a smaller minimum when told', () => {
    let now = 0;
    const cache = new PromptCache({ now: () => now, minTokens: 10 });
    const blocks = promptBlocks({ system: [{ type: 'text', text: 'forty bytes of rules, enough for ten tok', cache_control: { type: 'ephemeral', ttl: '1h' } }], messages: [{ role: 'user', content: 'go' }] });
    expect(cache.use('m', blocks).cache_creation_input_tokens).to.equal(blocks[0]!.tokens);
    now = 59 * 60_000;
    expect(cache.use('m', blocks).cache_read_input_tokens).to.equal(blocks[0]!.tokens);
  });

  it('bills writes at 1.25x, reads at 0.1x, the rest at 1x', () => {
    expect(billedInputRatio([{ input_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }])).to.equal(1);
    expect(billedInputRatio([
      { input_tokens: 0, cache_creation_input_tokens: 1000, cache_read_input_tokens: 0 },
      { input_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 900 },
    ])).to.be.closeTo((1250 + 100 + 90) / 2000, 1e-12);
    expect(billedInputRatio([])).to.equal(1);
  });
});
