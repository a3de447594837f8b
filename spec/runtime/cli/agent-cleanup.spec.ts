// agent:cleanup removes transcripts older than --older-than (the duration
// syntax of every other flag), keeps newer ones, and --dry-run removes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { makeWorkspace, removeWorkspace, runCli } from '../../support/cli.js';

describe('agent:cleanup (CLI)', () => {
  let ws = '';
  const sessions = () => path.join(ws, '.choragen', 'sessions');
  beforeEach(() => {
    ws = makeWorkspace({ '.choragen/sessions/old.json': '{}', '.choragen/sessions/new.json': '{}', '.choragen/sessions/notes.txt': 'x' });
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    fs.utimesSync(path.join(sessions(), 'old.json'), twoDaysAgo, twoDaysAgo);
    fs.utimesSync(path.join(sessions(), 'notes.txt'), twoDaysAgo, twoDaysAgo);
  });
  afterEach(() => removeWorkspace(ws));

  it('removes the transcripts older than the given age, and only transcripts', async () => {
    const dry = await runCli(['agent:cleanup', '--older-than', '36h', '--dry-run', '-w', ws]);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.equal(`would remove ${path.join('.choragen', 'sessions', 'old.json')}\n1 file would be removed\n`);
    expect(fs.readdirSync(sessions()).sort()).to.deep.equal(['new.json', 'notes.txt', 'old.json']);

    const week = await runCli(['agent:cleanup', '--older-than', '1w', '-w', ws]);
    expect(week.stdout).to.equal('0 files removed\n');
    const run = await runCli(['agent:cleanup', '--older-than', '1d', '-w', ws]);
    expect(run.code).to.equal(0);
    expect(fs.readdirSync(sessions()).sort()).to.deep.equal(['new.json', 'notes.txt']);
  });

  it('refuses an age without a unit in one line, exit 2, removing nothing', async () => {
    const r = await runCli(['agent:cleanup', '--older-than', '30', '-w', ws]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('choragen: --older-than must be a duration like 90s, 5m, 12h or 7d (got "30")\n');
    expect(fs.readdirSync(sessions())).to.have.length(3);
  });
});
