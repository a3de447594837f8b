import { expect } from 'chai';
import { diffLines, filePreview, splitLines, unifiedDiff } from '../../../capabilities/fs/diff.js';
import { occurrences } from '../../../capabilities/fs/occurrences.js';

describe('line diff', () => {
  /** Both texts must be rebuilt from the ops: the diff is correct whatever its shape. */
  const rebuild = (oldText: string, newText: string) => {
    const ops = diffLines(oldText, newText);
    expect(ops.filter((op) => op.kind !== 'insert').map((op) => op.line).join('')).to.equal(oldText);
    expect(ops.filter((op) => op.kind !== 'delete').map((op) => op.line).join('')).to.equal(newText);
    return ops.filter((op) => op.kind !== 'equal').length;
  };

  it('keeps line terminators, so a missing final newline is a change', () => {
    expect(splitLines('a\nb')).to.deep.equal(['a\n', 'b']);
    expect(splitLines('')).to.deep.equal([]);
    expect(unifiedDiff('a\nb', 'a\nb\n')).to.equal('--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b');
  });

  it('finds a minimal script for scattered edits', () => {
    const a = Array.from({ length: 300 }, (_, i) => `line ${i}\n`);
    const b = [...a];
    b[10] = 'changed\n';
    b.splice(150, 2);
    b.splice(250, 0, 'inserted\n');
    expect(rebuild(a.join(''), b.join(''))).to.equal(2 + 2 + 1);
  });

  it('stays correct on random texts, and on texts past the search bound', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round += 1) {
      const text = () => Array.from({ length: Math.floor(random() * 30) }, () => `${'abc'[Math.floor(random() * 3)]}\n`).join('');
      rebuild(text(), text());
    }
    const big = (tag: string) => Array.from({ length: 3000 }, (_, i) => `${tag}${i}\n`).join('');
    expect(rebuild(big('x'), big('y'))).to.equal(6000);
  });

  it('renders hunks with context and merges close changes', () => {
    const a = Array.from({ length: 20 }, (_, i) => `${i + 1}\n`).join('');
    const b = a.replace('2\n', 'two\n').replace('4\n', 'four\n').replace('18\n', 'eighteen\n');
    expect(unifiedDiff(a, b, { oldLabel: 'a/n', newLabel: 'b/n' })).to.equal(
      [
        '--- a/n',
        '+++ b/n',
        '@@ -1,7 +1,7 @@',
        ' 1',
        '-2',
        '+two',
        ' 3',
        '-4',
        '+four',
        ' 5',
        ' 6',
        ' 7',
        '@@ -15,6 +15,6 @@',
        ' 15',
        ' 16',
        ' 17',
        '-18',
        '+eighteen',
        ' 19',
        ' 20',
      ].join('\n'),
    );
  });

  it('gives nothing for equal texts and caps long diffs', () => {
    expect(unifiedDiff('same\n', 'same\n')).to.equal('');
    expect(filePreview('x', 'same\n', 'same\n')).to.equal('x: no change');
    const many = Array.from({ length: 100 }, (_, i) => `${i}\n`).join('');
    const capped = unifiedDiff('', many, { maxLines: 10 }).split('\n');
    expect(capped).to.have.length(11);
    expect(capped[10]).to.equal('[… 93 more diff lines not shown]');
  });

  it('labels a new file from /dev/null, and a deletion of everything', () => {
    expect(filePreview('n.txt', null, 'a\nb\n')).to.equal('--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+a\n+b');
    expect(unifiedDiff('a\n', '')).to.equal('--- a\n+++ b\n@@ -1,1 +0,0 @@\n-a');
  });

  it('bounds the work on texts shaped against it: the changed middle is replaced whole (issue 15)', () => {
    // Alternating lines against lines in thirds: within the edit-distance bound, the search alone
    // would hold the broker's thread for seconds on a 1 MB file.
    const periodic = (mod: number, n: number) => Array.from({ length: n }, (_, i) => (i % mod ? 'x\n' : 'y\n')).join('');
    const [a, b] = [periodic(2, 60_000), periodic(3, 60_000)];
    const changes = rebuild(a, b);
    expect(changes).to.be.greaterThan(100_000); // the fallback: nearly every line deleted and inserted
    // Rendering stops at maxLines and counts the rest exactly.
    const full = unifiedDiff(a, b).split('\n');
    const capped = unifiedDiff(a, b, { maxLines: 100 }).split('\n');
    expect(capped.slice(0, 100)).to.deep.equal(full.slice(0, 100));
    expect(capped[100]).to.equal(`[… ${full.length - 100} more diff lines not shown]`);
  });
});

describe('occurrences (edit_file\'s search)', () => {
  it('agrees with indexOf on overlapping occurrences, and stays linear where indexOf is not', () => {
    const naive = (t: string, n: string) => {
      const first = t.indexOf(n);
      let count = 0;
      for (let i = first; i !== -1; i = t.indexOf(n, i + 1)) count += 1;
      return { count, first };
    };
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const word = (max: number) => Array.from({ length: Math.floor(random() * max) }, () => 'ab\n'[Math.floor(random() * 3)]).join('');
    for (let round = 0; round < 2000; round += 1) {
      const [text, needle] = [word(30), word(4) || 'a'];
      expect(occurrences(text, needle), `${JSON.stringify(text)} / ${JSON.stringify(needle)}`).to.deep.equal(naive(text, needle));
    }
    expect(occurrences('aaa', 'aa')).to.deep.equal({ count: 2, first: 0 });
    expect(occurrences('a'.repeat(1_000_000), `${'a'.repeat(50_000)}b${'a'.repeat(50_000)}`)).to.deep.equal({ count: 0, first: -1 });
  });
});
