// The tree budget: counts every token kind, warns once at 80%, says when a cost is an estimate.
import { expect } from 'chai';
import { TreeBudget } from '../../../runtime/broker/budget.js';

const usage = (input: number, output = 0) => ({ input_tokens: input, output_tokens: output, cache_read_tokens: 0, cache_write_tokens: 0 });

describe('TreeBudget', () => {
  it('warns once at 80% and reports spent at 100%', () => {
    const b = new TreeBudget(100);
    expect(b.add(usage(50), 0)).to.deep.equal({ warn: false, spent: false });
    expect(b.add(usage(30), 0)).to.deep.equal({ warn: true, spent: false });
    expect(b.add(usage(10), 0)).to.deep.equal({ warn: false, spent: false });
    expect(b.add(usage(10), 0)).to.deep.equal({ warn: false, spent: true });
  });

  it('says when --max-cost counts an estimate, naming the models without a known price', () => {
    const b = new TreeBudget(undefined, 1);
    b.add(usage(10), 0.25);
    expect(b.describe()).to.equal('$0.2500/$1 cost');
    b.add(usage(10), 0.25, 'llama3.1:8b');
    b.add(usage(10), 0.25, 'llama3.1:8b');
    expect(b.describe()).to.equal('$0.7500/$1 cost (estimated: no known price for llama3.1:8b)');
  });
});
