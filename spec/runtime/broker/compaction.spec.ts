import { expect } from 'chai';
import type { ContentBlock, Message } from '../../../capabilities/protocol.js';
import { compactTranscript } from '../../../runtime/broker/compaction.js';
import { COMPACT_AT, ContextFit, estimateTokens } from '../../../runtime/broker/context-fit.js';

const use = (id: string, path: string): ContentBlock => ({ type: 'tool_use', id, name: 'read_file', input: { path } });
const result = (id: string, content: string, is_error?: boolean): ContentBlock => ({ type: 'tool_result', tool_use_id: id, content, ...(is_error ? { is_error } : {}) });

/** The first message and `n` read turns, each result `size` characters. */
function conversation(n: number, size = 6000): Message[] {
  const messages: Message[] = [{ role: 'user', content: 'Read every file.' }];
  for (let i = 0; i < n; i++) {
    messages.push({ role: 'assistant', content: [{ type: 'text', text: `reading ${i}` }, use(`t${i}`, `src/f${i}.ts`)] });
    messages.push({ role: 'user', content: [result(`t${i}`, `${i}:`.padEnd(size, 'x'))] });
  }
  return messages;
}

const tokens = (messages: Message[]) => messages.reduce((n, m) => n + estimateTokens(m), 0);
const compact = (messages: Message[], targetTokens: number, keepWholeTokens: number) =>
  compactTranscript(messages, { targetTokens, keepWholeTokens, tokensOf: estimateTokens });

/** Every tool_use is answered by a tool_result with its id in the next message, and roles alternate. */
function expectWellFormed(messages: Message[]): void {
  messages.forEach((m, i) => {
    if (i > 0) expect(m.role, `message ${i}`).to.not.equal(messages[i - 1]!.role);
    if (m.role !== 'assistant' || typeof m.content === 'string') return;
    const ids = m.content.filter((b) => b.type === 'tool_use').map((b) => (b as { id: string }).id);
    const next = messages[i + 1];
    if (ids.length === 0 || !next) return;
    const answered = (next.content as ContentBlock[]).filter((b) => b.type === 'tool_result').map((b) => (b as { tool_use_id: string }).tool_use_id);
    expect(answered).to.deep.equal(ids);
  });
}

describe('compaction', () => {
  it('stubs the results of older turns, keeps the newest whole, and leaves the first message and every pair alone', () => {
    const messages = conversation(30);
    const out = compact(messages, tokens(messages) / 2, 6 * 2100);
    expect(out.messages).to.have.length(messages.length);
    expect(out.messages[0]).to.equal(messages[0]);
    expect(out.dropped).to.equal(0);
    expectWellFormed(out.messages);
    // the newest turns are the same objects; the oldest results are stubs naming the call
    expect(out.messages.at(-1)).to.equal(messages.at(-1));
    const first = (out.messages[2]!.content as ContentBlock[])[0] as { content: string };
    expect(first.content).to.equal('[choragen: compacted to fit the context window: the result of read_file {"path":"src/f0.ts"} (6,000 characters) was here; call read_file again if you need it]');
    expect(out.stubbed).to.be.greaterThan(20);
    expect(out.tokens).to.equal(tokens(out.messages));
    expect(out.tokens).to.be.at.most(tokens(messages) / 2);
  });

  it('is stable: compacting again changes no turn compacted before, so its bytes stay the same', () => {
    const once = compact(conversation(30), 10_000, 4000).messages;
    const grown = [...once, ...conversation(31).slice(-2)];
    const twice = compact(grown, 10_000, 4000).messages;
    for (let i = 0; i < 40; i++) expect(JSON.stringify(twice[i])).to.equal(JSON.stringify(once[i]));
    expect(compact(twice, 10_000, 4000).stubbed).to.equal(0);
  });

  it('stubs the turns kept whole before it drops any turn, and drops the oldest only when the stubs alone do not fit', () => {
    const messages = conversation(40);
    const stubbedOnly = compact(messages, 8000, 30_000);
    expect(stubbedOnly.dropped).to.equal(0);
    expect(stubbedOnly.tokens).to.be.at.most(8000);
    expect(stubbedOnly.messages.at(-1)).to.equal(messages.at(-1)); // the newest turn stays whole while anything else can give

    const dropped = compact(messages, 1500, 30_000);
    expect(dropped.dropped).to.be.greaterThan(0);
    expect(dropped.tokens).to.be.at.most(1500);
    expectWellFormed(dropped.messages);
    expect(dropped.messages[1]!.role).to.equal('assistant');
    const head = dropped.messages[0]!.content as ContentBlock[];
    expect(head[0]).to.deep.equal({ type: 'text', text: 'Read every file.' });
    expect((head[1] as { text: string }).text).to.equal(`[choragen: removed ${dropped.dropped} earlier turns to fit the context window; what they did to the workspace stands. Read again what you need.]`);
    // a later compaction keeps one note and adds to its count
    const again = compact(dropped.messages, 1000, 30_000);
    const notes = (again.messages[0]!.content as ContentBlock[]).filter((b) => b.type === 'text' && b.text.startsWith('[choragen: removed'));
    expect(notes).to.have.length(1);
    expect((notes[0] as { text: string }).text).to.include(`removed ${dropped.dropped + again.dropped} earlier turns`);
  });

  it('cuts long tool inputs and texts of older turns, drops their thinking, and says what an error result was', () => {
    const big = 'y'.repeat(10_000);
    const messages: Message[] = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [
        { type: 'thinking', thinking: 'hmm', signature: 'sig' },
        { type: 'text', text: big },
        { type: 'tool_use', id: 'w', name: 'write_file', input: { path: 'a.ts', content: big } },
      ] },
      { role: 'user', content: [result('w', 'e'.repeat(2000), true)] },
      { role: 'assistant', content: [{ type: 'text', text: 'newest' }] },
      { role: 'user', content: 'carry on' },
    ];
    const out = compact(messages, 2000, 10);
    const old = out.messages[1]!.content as ContentBlock[];
    expect(old.map((b) => b.type)).to.deep.equal(['text', 'tool_use']);
    expect((old[0] as { text: string }).text).to.match(/^y{600}… \[choragen: 9,400 more characters compacted\]$/);
    expect((old[1] as { input: { path: string; content: string } }).input).to.deep.equal({ path: 'a.ts', content: `${'y'.repeat(600)}… [choragen: 9,400 more characters compacted]` });
    const stub = (out.messages[2]!.content as ContentBlock[])[0] as { content: string; is_error?: boolean };
    expect(stub.is_error).to.equal(true);
    expect(stub.content).to.match(/^\[choragen: compacted to fit the context window: the error of write_file \{"path":"a.ts","content":"y+…/);
    // the original transcript is untouched
    expect(((messages[1]!.content as ContentBlock[])[1] as { text: string }).text).to.equal(big);
  });
});

describe('context fit', () => {
  const setup = { system: 'choragen role: impl', tools: [] };

  it('keeps room for the answer: max_tokens is at most a quarter of the window, the prompt budget the rest', () => {
    expect(new ContextFit(200_000, 8192, setup)).to.include({ maxOutputTokens: 8192, budget: 191_808 });
    expect(new ContextFit(8000, 8192, setup)).to.include({ maxOutputTokens: 2000, budget: 6000 });
  });

  it('estimates the next prompt from the reported one plus what was added since', () => {
    const fit = new ContextFit(60_000, 8192, setup);
    const messages = conversation(3);
    const whole = fit.estimate(messages);
    expect(whole).to.equal(estimateTokens(setup) + tokens(messages));
    fit.answered(messages.length, { input_tokens: 100, cache_read_tokens: 4000, cache_write_tokens: 500, output_tokens: 50 });
    const grown = conversation(4);
    expect(fit.estimate(grown)).to.equal(4600 + tokens(grown.slice(messages.length)));
    // a provider that reports nothing leaves the whole estimate
    fit.answered(grown.length, { input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    expect(fit.estimate(grown)).to.equal(estimateTokens(setup) + tokens(grown));
  });

  it('compacts past COMPACT_AT of the budget, in one large step, and starts estimating anew', () => {
    const fit = new ContextFit(60_000, 8192, setup);
    let messages = conversation(1);
    while (!fit.needsCompaction(messages)) messages = conversation(messages.length / 2 + 1);
    expect(fit.estimate(messages)).to.be.greaterThan(COMPACT_AT * fit.budget);
    fit.answered(messages.length - 2, { input_tokens: 40_000, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0 });
    const done = fit.compact(messages, false);
    expect(done.after).to.be.at.most(fit.budget / 2);
    expect(done.before).to.be.greaterThan(done.after * 1.5);
    expect(fit.estimate(done.messages)).to.equal(done.after); // the report was about the conversation before
  });

  it('learns a smaller window from a refusal that names the maximum, or steps down from its estimate when it does not', () => {
    const fit = new ContextFit(200_000, 8192, setup);
    expect(fit.refused('prompt is too long: 61234 tokens > 60000 maximum', 50_000)).to.equal(true);
    expect(fit.budget).to.equal(60_000 - 8192);
    const both = new ContextFit(200_000, 8192, setup);
    expect(both.refused('input length and `max_tokens` exceed context limit: 55000 + 8192 > 60000, decrease input length or `max_tokens` and try again', 50_000)).to.equal(true);
    expect(both.budget).to.equal(60_000 - 8192);
    const other = new ContextFit(200_000, 8192, setup);
    expect(other.refused('the prompt is too long', 100_000)).to.equal(false);
    expect(other.budget).to.equal(90_000);
    other.refused('prompt is too long: 1 tokens > 999999 maximum', 0); // never raised
    expect(other.budget).to.equal(90_000);
  });
});
