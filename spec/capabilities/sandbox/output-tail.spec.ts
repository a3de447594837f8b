import { expect } from 'chai';
import { OutputTail, cutNotes } from '../../../capabilities/sandbox/output-tail.js';

describe('sandbox output tail', () => {
  it('keeps everything under the cap', () => {
    const tail = new OutputTail(100);
    tail.push(Buffer.from('hello '));
    tail.push(Buffer.from('world'));
    expect(tail.result()).to.deep.equal({ text: 'hello world', totalBytes: 11, cutBytes: 0 });
  });

  it('keeps the last bytes and counts what was cut, across chunk boundaries', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}\n`);
    const tail = new OutputTail(10);
    for (const line of lines) tail.push(Buffer.from(line));
    const all = lines.join('');
    expect(tail.result()).to.deep.equal({ text: all.slice(-10), totalBytes: all.length, cutBytes: all.length - 10 });
  });

  it('holds at most the cap plus one chunk in memory however much is pushed', () => {
    const tail = new OutputTail(64 * 1024);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      tail.push(chunk);
      most = Math.max(most, tail.heldBytes);
    }
    expect(most).to.be.at.most(64 * 1024 + chunk.length);
    expect(tail.totalBytes).to.equal(10_000 * chunk.length);
  });

  it('keeps the end of a chunk larger than the cap', () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.from('abcdefgh'));
    expect(tail.result()).to.deep.equal({ text: 'efgh', totalBytes: 8, cutBytes: 4 });
  });

  it('drops a character cut in half at the start rather than showing a broken one', () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.from('aé🌍b')); // 1 + 2 + 4 + 1 bytes; the last 4 start inside 🌍
    const out = tail.result();
    expect(out.text).to.equal('b');
    expect(out.cutBytes).to.equal(7);
  });

  it('keeps nothing with a zero cap but still counts', () => {
    const tail = new OutputTail(0);
    tail.push(Buffer.from('abc'));
    expect(tail.result()).to.deep.equal({ text: '', totalBytes: 3, cutBytes: 3 });
  });

  it('says per stream what was cut and what is shown', () => {
    expect(
      cutNotes({
        stdout: { text: 'x', totalBytes: 1000, cutBytes: 900 },
        stderr: { text: '', totalBytes: 0, cutBytes: 0 },
      }),
    ).to.deep.equal(['stdout: the first 900 of 1000 bytes were cut; the last 100 are shown']);
  });
});
