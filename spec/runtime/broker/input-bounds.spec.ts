// Tool inputs are bounded before anything recursive sees them (issue 15,
// class 3): the check itself is iterative, so no input can overflow it.
import { expect } from 'chai';
import { MAX_INPUT_BYTES, MAX_INPUT_DEPTH, MAX_INPUT_VALUES, inputProblem } from '../../../runtime/broker/input-bounds.js';

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe('tool input bounds', () => {
  it('lets every ordinary input through', () => {
    for (const input of [
      {},
      { path: 'src/a.ts' },
      { path: 'src/a.ts', content: 'x'.repeat(1024 * 1024) },
      { argv: ['npm', 'test'], cwd: 'src', timeout_s: 30 },
      { role: 'impl', instructions: 'é🌍'.repeat(1000), task_id: 'CHAIN-001-x/001-y' },
      null,
      'a string',
      42,
    ]) {
      expect(inputProblem(input), JSON.stringify(input).slice(0, 60)).to.equal(null);
    }
    expect(inputProblem({ a: nested(MAX_INPUT_DEPTH - 1) })).to.equal(null);
  });

  it('refuses deep nesting, even far deeper than the stack allows, without recursing', () => {
    expect(inputProblem({ a: nested(MAX_INPUT_DEPTH) })).to.equal(`the input is nested deeper than ${MAX_INPUT_DEPTH} levels`);
    // 7 KB of nested arrays: the red team's input; and 200,000 levels, which would overflow any recursion.
    expect(inputProblem({ path: JSON.parse(`${'['.repeat(3500)}${']'.repeat(3500)}`) })).to.match(/nested deeper/);
    expect(inputProblem(nested(200_000))).to.match(/nested deeper/);
  });

  it('refuses inputs that are too large or hold too many values', () => {
    expect(inputProblem({ content: 'x'.repeat(MAX_INPUT_BYTES + 1) })).to.equal(`the input is larger than ${MAX_INPUT_BYTES} bytes`);
    expect(inputProblem({ content: '🌍'.repeat(MAX_INPUT_BYTES / 3) })).to.match(/larger than/);
    expect(inputProblem({ many: new Array(MAX_INPUT_VALUES + 1).fill(0) })).to.equal(`the input holds more than ${MAX_INPUT_VALUES} values`);
    const wide: Record<string, number> = {};
    for (let i = 0; i <= MAX_INPUT_VALUES; i++) wide[`k${i}`] = i;
    expect(inputProblem(wide)).to.match(/more than/);
  });
});
