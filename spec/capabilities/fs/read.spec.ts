import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { countLines, countLinesIn, scanLines, scanLinesIn, type ScannedLine } from '../../../capabilities/fs/read.js';
import { removeWorkspace, tempWorkspace } from '../../support/tool-context.js';

// read_file windows small files in memory and streams big ones: both must see
// exactly the same lines, cut the same way, and count the same total.
describe('fs/read line scanning: in memory = streamed', () => {
  let ws: string;
  afterEach(() => removeWorkspace(ws));

  const chunk = 64 * 1024;
  const contents: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    plain: Buffer.from('one\ntwo\nthree\n'),
    'no final newline': Buffer.from('one\ntwo'),
    crlf: Buffer.from('one\r\ntwo\r\n\r\nlast\r'),
    'cr at the cut': Buffer.from(`abcd\r\nabc\r\n${'z'.repeat(9)}\r\n`),
    'long lines': Buffer.from(`short\n${'x'.repeat(3 * chunk + 17)}\nend`),
    'emoji across a chunk': Buffer.from(`${'b'.repeat(chunk - 2)}🌍\nnext\n`),
    'CRLF across a chunk': Buffer.from(`${'c'.repeat(chunk - 1)}\r\nnext\r\n`),
    'invalid UTF-8': Buffer.concat([Buffer.from('ok\n'), Buffer.from([0xff, 0xfe, 0x41, 0x0a, 0xc3])]),
    'only newlines': Buffer.from('\n\n\n'),
  };

  async function streamed(file: string, keepChars: number, stopAfter: number): Promise<{ lines: ScannedLine[]; visited: number; total: number }> {
    const handle = await fs.promises.open(file, 'r');
    try {
      const lines: ScannedLine[] = [];
      const visited = await scanLines(handle, keepChars, (line) => lines.push(line) < stopAfter);
      return { lines, visited, total: await countLines(handle) };
    } finally {
      await handle.close();
    }
  }

  function inMemory(bytes: Buffer, keepChars: number, stopAfter: number): { lines: ScannedLine[]; visited: number; total: number } {
    const lines: ScannedLine[] = [];
    const visited = scanLinesIn(bytes, keepChars, (line) => lines.push(line) < stopAfter);
    return { lines, visited, total: countLinesIn(bytes) };
  }

  for (const [name, bytes] of Object.entries(contents)) {
    it(`agrees on ${name}`, async () => {
      ws = tempWorkspace({ f: bytes });
      const file = path.join(ws, 'f');
      for (const keepChars of [4, 5, 10, 70_000]) {
        for (const stopAfter of [1, 2, Infinity]) {
          expect(inMemory(bytes, keepChars, stopAfter), `keep ${keepChars}, stop after ${stopAfter}`).to.deep.equal(
            await streamed(file, keepChars, stopAfter),
          );
        }
      }
    });
  }

  it('stops an in-memory scan when the signal aborts', () => {
    const controller = new AbortController();
    controller.abort();
    expect(() => scanLinesIn(Buffer.from('a\n'), 10, () => true, controller.signal)).to.throw();
  });
});
