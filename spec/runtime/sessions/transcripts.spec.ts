import { expect } from 'chai';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TranscriptWriter, loadTranscript, transcriptFile } from '../../../runtime/sessions/transcripts.js';
import { makeWorkspace, removeWorkspace } from '../../support/cli.js';

/** Above Linux's pid_max (4194304): never a live process. */
const DEAD_PID = 4_194_400;
const identity = { id: 'sess01', role: 'impl' as const, depth: 1, parentId: 'root01', rootId: 'root01', taskId: null, chainId: null };

describe('session transcripts', () => {
  let ws: string;
  beforeEach(() => { ws = makeWorkspace(); });
  afterEach(() => removeWorkspace(ws));

  /** As if the process that wrote the journal had been killed: its writer line names a process that is gone. */
  function diedWriting(id: string): void {
    const file = transcriptFile(ws, id, 'jsonl');
    writeFileSync(file, readFileSync(file, 'utf8').replace(`"pid":${process.pid},`, `"pid":${DEAD_PID},`));
  }

  it('journals each turn; after a crash (no final record) the journal resumes as interrupted, torn line ignored', () => {
    const w = new TranscriptWriter(ws, { identity, tools: ['read_file'], envelope: ['read_file'], model: 'm' });
    const transcript: any[] = [{ role: 'user', content: 'go' }];
    w.sync(transcript);
    transcript.push({ role: 'assistant', content: [{ type: 'text', text: 'turn 1' }] });
    w.sync(transcript);
    w.sync(transcript); // nothing new: nothing written twice
    appendFileSync(transcriptFile(ws, 'sess01', 'jsonl'), '{"message":{"role":"user","cont');
    expect(existsSync(transcriptFile(ws, 'sess01'))).to.equal(false);
    // While the process that writes the journal lives, the session is running.
    expect(loadTranscript(ws, 'sess01')).to.include({ status: 'running', error: null });
    expect(loadTranscript(ws, 'sess01').writer).to.include({ pid: process.pid });
    diedWriting('sess01');
    const saved = loadTranscript(ws, 'sess01');
    expect(saved.status).to.equal('interrupted');
    expect(saved.messages).to.deep.equal(transcript);
    expect(saved.tools).to.deep.equal(['read_file']);
  });

  it('journals a compaction whole: after a crash the journal rebuilds the compacted transcript and the turns after it', () => {
    const w = new TranscriptWriter(ws, { identity, tools: ['read_file'], envelope: ['read_file'], model: 'm' });
    const long = 'x'.repeat(5000);
    let transcript: any[] = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'a' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: long }] },
    ];
    w.sync(transcript);
    transcript = [transcript[0], transcript[1], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: '[stub]' }] }];
    w.compacted(transcript);
    transcript.push({ role: 'assistant', content: [{ type: 'text', text: 'done' }] });
    w.sync(transcript);
    const saved = loadTranscript(ws, 'sess01');
    expect(saved.messages).to.deep.equal(transcript);
    expect(JSON.stringify(saved.messages)).to.not.include(long);
  });

  it('journals each tool result the moment it exists; only the results after the last assistant message are pending', () => {
    const w = new TranscriptWriter(ws, { identity, tools: ['read_file'], envelope: ['read_file'], model: 'm' });
    const use = (id: string) => ({ type: 'tool_use', id, name: 'read_file', input: { path: 'a' } });
    const result = (id: string) => ({ type: 'tool_result' as const, tool_use_id: id, content: `result ${id}` });
    const transcript: any[] = [{ role: 'user', content: 'go' }, { role: 'assistant', content: [use('t1')] }];
    w.sync(transcript);
    w.toolResult(result('t1'));
    transcript.push({ role: 'user', content: [result('t1')] }, { role: 'assistant', content: [use('t1'), use('t2')] });
    w.sync(transcript);
    w.toolResult(result('t2'));
    diedWriting('sess01');
    const saved = loadTranscript(ws, 'sess01');
    expect(saved.messages).to.deep.equal(transcript);
    // t1 of the first turn is not taken for the t1 of the last one
    expect(saved.tool_results).to.deep.equal([result('t2')]);
  });

  it('the final record keeps the pending results too', () => {
    const w = new TranscriptWriter(ws, { identity, tools: ['read_file'], envelope: ['read_file'], model: 'm' });
    const transcript: any[] = [{ role: 'user', content: 'go' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't9', name: 'read_file', input: {} }] }];
    w.sync(transcript);
    w.toolResult({ type: 'tool_result', tool_use_id: 't9', content: 'nine', is_error: true });
    w.finish(transcript, 'interrupted', 'interrupted by SIGINT');
    expect(loadTranscript(ws, 'sess01').tool_results).to.deep.equal([{ type: 'tool_result', tool_use_id: 't9', content: 'nine', is_error: true }]);
  });

  it('a write that fails is reported once, leaves no temp file, and nothing more is written', () => {
    const errors: Error[] = [];
    const w = new TranscriptWriter(ws, { identity, tools: [], envelope: [], model: 'm' }, (err) => errors.push(err));
    w.sync([{ role: 'user', content: 'go' }]);
    // A directory where the final record goes: renaming the record into place fails.
    mkdirSync(transcriptFile(ws, 'sess01'));
    w.finish([{ role: 'user', content: 'go' }], 'completed', null);
    expect(errors).to.have.length(1);
    expect(errors[0]!.message).to.match(/^cannot write the session record .*sess01\.json: /);
    expect(readdirSync(path.dirname(transcriptFile(ws, 'sess01'))).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
    expect(readFileSync(transcriptFile(ws, 'sess01', 'jsonl'), 'utf8')).to.match(/"end":\{"status":"completed"/);
  });

  it('writes the whole record at the end, and that is what loads', () => {
    const w = new TranscriptWriter(ws, { identity, tools: [], envelope: [], model: 'm' });
    const transcript: any[] = [{ role: 'user', content: 'go' }, { role: 'assistant', content: [] }];
    w.finish(transcript, 'failed', 'boom');
    const saved = loadTranscript(ws, 'sess01');
    expect(saved).to.include({ status: 'failed', error: 'boom' });
    expect(saved.messages).to.have.length(2);
  });

  it('tells a torn last line (a crash) from a damaged line with more after it; an empty journal says so', () => {
    const w = new TranscriptWriter(ws, { identity, tools: [], envelope: [], model: 'm' });
    w.sync([{ role: 'user', content: 'go' }, { role: 'assistant', content: [{ type: 'text', text: 'one' }] }]);
    diedWriting('sess01');
    const file = transcriptFile(ws, 'sess01', 'jsonl');
    const whole = readFileSync(file, 'utf8');
    appendFileSync(file, '{"message":{"role":"user","cont');
    expect(loadTranscript(ws, 'sess01')).to.not.have.property('damaged_line');
    for (const bad of ['{"message":{"role":"user","cont', 'null', '[]', '7']) {
      writeFileSync(file, `${whole}${bad}\n{"message":{"role":"user","content":"later"}}\n`);
      const saved = loadTranscript(ws, 'sess01');
      expect(saved.damaged_line, bad).to.equal(5);
      expect(saved.messages).to.have.length(2);
    }
    writeFileSync(file, '');
    expect(() => loadTranscript(ws, 'sess01')).to.throw(/^the saved session sess01 is unreadable: its journal \S+sess01\.jsonl has no header line \(it is empty or damaged\); there is nothing to resume from$/);
  });

  it('refuses ids that are not session ids, and says how to find one', () => {
    expect(() => loadTranscript(ws, '../etc/passwd')).to.throw(/not a session id/);
    expect(() => loadTranscript(ws, 'nosuch')).to.throw(/agent:list/);
  });
});
