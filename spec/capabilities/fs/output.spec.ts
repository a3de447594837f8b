import { expect } from 'chai';
import { OutputBudget, cutLine, plural, withNotes } from '../../../capabilities/fs/output.js';
import { looksBinary } from '../../../capabilities/fs/read.js';

describe('tool output helpers', () => {
  it('cuts a line with a marker that counts what was dropped', () => {
    expect(cutLine('short', 10)).to.deep.equal({ text: 'short', cut: false });
    expect(cutLine('abcdefghij', 4)).to.deep.equal({ text: 'abcd … [line cut: 6 more characters]', cut: true });
    expect(cutLine('abcd', 4, 100).text).to.equal('abcd … [line cut: 100 more characters]');
    expect(cutLine('a🌍b', 2).text).to.equal('a … [line cut: 3 more characters]');
  });

  it('keeps lines within a byte budget and stays full once refused', () => {
    const budget = new OutputBudget(1024 + 10);
    expect(budget.add('x'.repeat(500))).to.equal(true);
    expect(budget.add('é'.repeat(300))).to.equal(false); // 600 bytes: over the 522 left
    expect(budget.full).to.equal(true);
    expect(budget.add('y')).to.equal(false);
    expect(budget.count).to.equal(1);
  });

  it('formats notes and plurals', () => {
    expect(withNotes('body', ['a', 'b'])).to.equal('body\n[a]\n[b]');
    expect(withNotes('', ['only'])).to.equal('[only]');
    expect(withNotes('body', [])).to.equal('body');
    expect(plural(1, 'line')).to.equal('1 line');
    expect(plural(2, 'match', 'matches')).to.equal('2 matches');
  });

  it('tells binary from text', () => {
    expect(looksBinary(Buffer.from('plain text\n'))).to.equal(false);
    expect(looksBinary(Buffer.from('héllo 🌍 — ünïcödé\n'))).to.equal(false);
    expect(looksBinary(Buffer.from([0x61, 0x00, 0x62]))).to.equal(true);
    expect(looksBinary(Buffer.from('café crème à la française'.replace(/é/g, '\xe9'), 'latin1'))).to.equal(false);
    // A multibyte character cut by the sample's end is not "invalid".
    expect(looksBinary(Buffer.from('ab🌍', 'utf8').subarray(0, 4))).to.equal(false);
  });
});
