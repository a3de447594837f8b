// The Approver (issue 4 part 6) with injected terminal streams: yes, no,
// timeout, no terminal, --auto-approve, and parallel asks that never
// interleave their prompts.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { type ApprovalRequest, Approver } from '../../../runtime/broker/approver.js';

/** A fake terminal: what was written, and a way to wait for a prompt. */
function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const waiters: Array<() => void> = [];
  output.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    for (const w of waiters.splice(0)) w();
  });
  const prompts = () => text.split('allow? [y/N]').length - 1;
  return {
    input,
    output,
    text: () => text,
    prompts,
    /** Resolves once `n` prompts have been written. */
    async untilPrompts(n: number): Promise<void> {
      while (prompts() < n) await new Promise<void>((r) => waiters.push(r));
    },
  };
}

const req = (path: string, preview?: string): ApprovalRequest => ({
  sessionLabel: 'impl s1', tool: 'write_file', path, reason: 'review deps', rule: 'mutations.approve[0]',
  preview: preview === undefined ? undefined : async () => preview,
});

const never = () => new AbortController().signal;

describe('Approver', () => {
  it('asks on the terminal with the rule, reason and diff; "y" is yes', async () => {
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
    const answer = approver.ask(req('package.json', '--- a/package.json\n+++ b/package.json\n-"1"\n+"2"'), never());
    await t.untilPrompts(1);
    expect(t.text()).to.include('impl s1 wants write_file on package.json')
      .and.to.include('rule mutations.approve[0]: review deps')
      .and.to.include('+"2"');
    t.input.write('y\n');
    expect(await answer).to.deep.equal({ answer: 'yes', by: 'terminal' });
  });

  it('"n", an empty line or anything but y/yes is no', async () => {
    for (const line of ['n', '', 'maybe', 'yess']) {
      const t = terminal();
      const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
      const answer = approver.ask(req('package.json'), never());
      await t.untilPrompts(1);
      t.input.write(`${line}\n`);
      expect(await answer, JSON.stringify(line)).to.deep.equal({ answer: 'no', by: 'terminal' });
    }
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
    const answer = approver.ask(req('a'), never());
    await t.untilPrompts(1);
    t.input.write('  YES \n');
    expect(await answer).to.deep.equal({ answer: 'yes', by: 'terminal' });
  });

  it('no answer before the timeout is no', async () => {
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 30, input: t.input, output: t.output });
    expect(await approver.ask(req('package.json'), never())).to.deep.equal({ answer: 'no', by: 'timeout' });
  });

  it('a session that stops while asking gets no', async () => {
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
    const stop = new AbortController();
    const answer = approver.ask(req('package.json'), stop.signal);
    await t.untilPrompts(1);
    stop.abort('interrupted');
    expect((await answer).answer).to.equal('no');
  });

  it('--auto-approve says yes and no terminal says no, without writing a prompt', async () => {
    const t = terminal();
    const auto = new Approver({ autoApprove: true, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
    expect(await auto.ask(req('x'), never())).to.deep.equal({ answer: 'yes', by: 'auto-approve' });
    const headless = new Approver({ autoApprove: false, interactive: false, timeoutMs: 60_000, input: t.input, output: t.output });
    expect(await headless.ask(req('x'), never())).to.deep.equal({ answer: 'no', by: 'no-terminal' });
    expect(t.text()).to.equal('');
  });

  it('parallel asks are serialized: one whole prompt at a time, each answer goes to its own question', async () => {
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 60_000, input: t.input, output: t.output });
    const first = approver.ask(req('first.txt', 'PREVIEW-ONE'), never());
    const second = approver.ask(req('second.txt', 'PREVIEW-TWO'), never());
    const third = approver.ask(req('third.txt', 'PREVIEW-THREE'), never());
    await t.untilPrompts(1);
    // Only the first question is on the terminal until it is answered.
    expect(t.text()).to.include('first.txt').and.to.include('PREVIEW-ONE');
    expect(t.text()).to.not.include('second.txt').and.not.include('third.txt');
    t.input.write('y\n');
    await t.untilPrompts(2);
    const afterFirst = t.text();
    expect(afterFirst.indexOf('second.txt')).to.be.greaterThan(afterFirst.indexOf('first.txt'));
    expect(afterFirst).to.not.include('third.txt');
    t.input.write('n\n');
    await t.untilPrompts(3);
    t.input.write('yes\n');
    expect(await Promise.all([first, second, third]).then((a) => a.map((x) => x.answer))).to.deep.equal(['yes', 'no', 'yes']);
    // Each block (header, preview, question) is contiguous.
    const blocks = t.text().split('── approval needed ──').slice(1);
    expect(blocks).to.have.length(3);
    ['first.txt', 'second.txt', 'third.txt'].forEach((name, i) => {
      expect(blocks[i]).to.include(name).and.to.include(['PREVIEW-ONE', 'PREVIEW-TWO', 'PREVIEW-THREE'][i]).and.to.include('allow? [y/N]');
    });
  });

  it('a prompt that times out does not hold up the next one', async () => {
    const t = terminal();
    const approver = new Approver({ autoApprove: false, interactive: true, timeoutMs: 30, input: t.input, output: t.output });
    const first = approver.ask(req('slow.txt'), never());
    const second = approver.ask(req('next.txt'), never());
    expect(await first).to.deep.equal({ answer: 'no', by: 'timeout' });
    expect(await second).to.deep.equal({ answer: 'no', by: 'timeout' });
    expect(t.prompts()).to.equal(2);
  });
});
