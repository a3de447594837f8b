// The one terminal sanitizer (issue 15 class 7): text from a model, a file or
// a file name can neither move the cursor, erase a line, retitle the window
// nor forge a line of its own.
import { expect } from 'chai';
import { termLine, termText } from '../../../runtime/terminal/text.js';

const ESC = '\x1b';

describe('terminal text', () => {
  it('shows escape sequences and control characters as visible escapes', () => {
    expect(termLine(`a${ESC}]0;pwned\x07b`)).to.equal('a\\x1b]0;pwned\\x07b');
    expect(termLine(`${ESC}[2K${ESC}[1Aok`)).to.equal('\\x1b[2K\\x1b[1Aok');
    expect(termLine('a\rb')).to.equal('a\\rb');
    expect(termLine('nul\0 del\x7f bs\b')).to.equal('nul\\x00 del\\x7f bs\\x08');
  });

  it('escapes 8-bit C1 controls (a lone CSI some terminals obey)', () => {
    expect(termLine('a\u009b2Kb\u0085c')).to.equal('a\\x9b2Kb\\x85c');
  });

  it('escapes characters that reorder or hide text (bidi overrides, zero-width, tag characters)', () => {
    expect(termLine('src/\u202etxt.exe')).to.equal('src/\\u202etxt.exe');
    expect(termLine('a\u200bb\u2066c\u2069\ufeff')).to.equal('a\\u200bb\\u2066c\\u2069\\ufeff');
    expect(termLine('x\u{e0041}y')).to.equal('x\\u{e0041}y');
    expect(termLine('line\u2028sep')).to.equal('line\\u2028sep');
  });

  it('escapes lone surrogates but keeps real characters', () => {
    expect(termLine('a\ud800b')).to.equal('a\\ud800b');
    expect(termLine('héllo 世界 🎉 ✓ └─')).to.equal('héllo 世界 🎉 ✓ └─');
  });

  it('a name keeps to one line: newlines and tabs are escaped, so a path cannot forge a progress line', () => {
    const path = 'src/a.ts\n✗ impl 1 write_file deny by path on x';
    expect(termLine(path)).to.equal('src/a.ts\\n✗ impl 1 write_file deny by path on x');
    expect(termLine(path)).to.not.include('\n');
    expect(termLine('a\tb')).to.equal('a\\tb');
  });

  it('multi-line text keeps its newlines and tabs and loses everything else', () => {
    const text = `Done.\n\tAll good.${ESC}[2J\r\nhidden\rshown`;
    expect(termText(text)).to.equal('Done.\n\tAll good.\\x1b[2J\\r\nhidden\\rshown');
  });

  it('leaves plain text as it is and turns non-strings into text', () => {
    expect(termLine('plain ascii path/with-dash_ok.ts')).to.equal('plain ascii path/with-dash_ok.ts');
    expect(termLine(null)).to.equal('');
    expect(termLine(42)).to.equal('42');
    expect(termText(undefined)).to.equal('');
  });

  it('no output of either ever holds a control character', () => {
    let all = '';
    for (let c = 0; c < 0x300; c++) all += String.fromCharCode(c);
    for (const out of [termLine(all), termText(all)]) {
      // eslint-disable-next-line no-control-regex
      expect(out.replace(/[\n\t]/g, '')).to.not.match(/[\x00-\x1f\x7f-\x9f]/);
    }
  });
});
