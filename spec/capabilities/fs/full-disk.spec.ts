// The file tools on a disk that fills up part way through a write (issue 16
// item 3): the tool fails with one line, a file it replaced or edited keeps
// its old content whole, and a file it was creating is not left behind half
// written. A small tmpfs gives a real ENOSPC; where mounting is not allowed
// the spec skips with a message.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { editFile } from '../../../capabilities/edit-file.js';
import { writeFile } from '../../../capabilities/write-file.js';
import { ToolFailure } from '../../../policy/errors.js';
import { type Tmpfs, mountTmpfs, tmpfsUnavailable } from '../../support/tmpfs.js';
import { rejection, runTool, testToolContext } from '../../support/tool-context.js';

describe('file tools on a full disk (issue 16)', () => {
  let disk: Tmpfs | null = null;
  const original = Array.from({ length: 400 }, (_, i) => `line ${i}\n`).join('');
  const more = 'x'.repeat(64 * 1024);

  beforeEach(function () {
    disk = mountTmpfs(256);
    if (!disk) {
      console.log(`      (skipped: ${tmpfsUnavailable()})`);
      this.skip();
    }
    fs.mkdirSync(path.join(disk!.dir, 'src'));
    fs.writeFileSync(path.join(disk!.dir, 'src/a.txt'), original);
    disk!.fill(8 * 1024);
  });
  afterEach(() => {
    disk?.unmount();
    disk = null;
  });

  const file = (rel: string) => path.join(disk!.dir, rel);

  it('write_file replacing a file: fails with one line, the old content stays whole', async () => {
    const err = await rejection(runTool(writeFile, testToolContext(disk!.dir), { path: 'src/a.txt', content: original + more }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('no space left on device while writing src/a.txt');
    expect(fs.readFileSync(file('src/a.txt'), 'utf8')).to.equal(original);
  });

  it('edit_file growing a file: fails with one line, the old content stays whole', async () => {
    const err = await rejection(runTool(editFile, testToolContext(disk!.dir), { path: 'src/a.txt', old_string: 'line 7\n', new_string: `line 7\n${more}\n` }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('no space left on device while writing src/a.txt');
    expect(fs.readFileSync(file('src/a.txt'), 'utf8')).to.equal(original);
  });

  it('write_file creating a file: fails with one line, and leaves no file behind', async () => {
    const err = await rejection(runTool(writeFile, testToolContext(disk!.dir), { path: 'src/new.txt', content: more }));
    expect(err).to.be.instanceOf(ToolFailure);
    expect(err.message).to.equal('no space left on device while writing src/new.txt');
    expect(fs.existsSync(file('src/new.txt'))).to.equal(false);
  });

  it('a replacement that fits is written whole, shorter or longer', async () => {
    const ctx = testToolContext(disk!.dir);
    await runTool(writeFile, ctx, { path: 'src/a.txt', content: 'short\n' });
    expect(fs.readFileSync(file('src/a.txt'), 'utf8')).to.equal('short\n');
    await runTool(writeFile, ctx, { path: 'src/a.txt', content: `${original}tail\n` });
    expect(fs.readFileSync(file('src/a.txt'), 'utf8')).to.equal(`${original}tail\n`);
  });
});
