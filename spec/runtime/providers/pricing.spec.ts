// OpenAI models in the price table; the fallback stays the most expensive rate.
import { expect } from 'chai';
import { FALLBACK_PRICE, PRICES, costOf, isKnownModel, priceOf } from '../../../runtime/providers/pricing.js';

const M = 1_000_000;

describe('pricing of OpenAI models', () => {
  it('prices input, cached input and output, for dated, -latest and router-prefixed ids alike', () => {
    expect(costOf('gpt-5-mini', { input_tokens: M, output_tokens: M, cache_read_tokens: M, cache_write_tokens: 0 })).to.be.closeTo(0.25 + 2 + 0.025, 1e-12);
    expect(priceOf('gpt-5-2025-08-07')).to.deep.equal(PRICES['gpt-5']);
    expect(priceOf('openai/gpt-4.1-mini')).to.deep.equal(PRICES['gpt-4.1-mini']);
    expect(priceOf('gpt-5-chat-latest')).to.deep.equal(PRICES['gpt-5']);
    expect(priceOf('gpt-4o-mini-2024-07-18').cache_read).to.equal(0.075);
    expect(priceOf('o4-mini').output).to.equal(4.4);
    // A family is not a prefix of another: gpt-5-mini is not priced as gpt-5, o3-mini not as o3.
    expect(priceOf('gpt-5-mini').input).to.equal(0.25);
    expect(priceOf('o3-mini').input).to.equal(1.1);
  });

  it('a local model is unknown and gets the fallback, which is at least every rate in the table', () => {
    for (const local of ['llama3.1:8b', 'qwen3-coder', 'mistral-small3.2:24b']) {
      expect(isKnownModel(local), local).to.equal(false);
      expect(priceOf(local)).to.deep.equal(FALLBACK_PRICE);
    }
    for (const [model, price] of Object.entries(PRICES)) {
      for (const k of ['input', 'output', 'cache_write', 'cache_read'] as const) expect(price[k], `${model} ${k}`).to.be.at.most(FALLBACK_PRICE[k]);
    }
  });
});
