import { expect } from 'chai';
import { appendFileSync, existsSync } from 'node:fs';
import { TranscriptWriter, loadTranscript, transcriptFile } from '../../../runtime/sessions/transcripts.js';
import { makeWorkspace, removeWorkspace } from '../../support/cli.js';

const identity = { id: 'sess01', role: 'impl' as const, depth: 1, parentId: 'root01', rootId: 'root01', taskId: null, chainId: null };

describe('session transcripts', () => {
  let ws: string;
  beforeEach(() => { ws = makeWorkspace(); });
  afterEach(() => removeWorkspace(ws));

  it('journals each turn; after a crash (no final record) the journal resumes as interrupted, torn line ignored', () => {
    const w = new TranscriptWriter(ws, { identity, tools: ['read_file'], envelope: ['read_file'], model: 'm' });
    const transcript: any[] = [{ role: 'user', content: 'go' }];
    w.sync(transcript);
    transcript.push({ role: 'assistant', content: [{ type: 'text', text: 'turn 1' }] });
    w.sync(transcript);
    w.sync(transcript); // nothing new: nothing written twice
    appendFileSync(transcriptFile(ws, 'sess01', 'jsonl'), '{"message":{"role":"user","cont');
    expect(existsSync(transcriptFile(ws, 'sess01'))).to.equal(false);
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

  it('writes the whole record at the end, and that is what loads', () => {
    const w = new TranscriptWriter(ws, { identity, tools: [], envelope: [], model: 'm' });
    const transcript: any[] = [{ role: 'user', content: 'go' }, { role: 'assistant', content: [] }];
    w.finish(transcript, 'failed', 'boom');
    const saved = loadTranscript(ws, 'sess01');
    expect(saved).to.include({ status: 'failed', error: 'boom' });
    expect(saved.messages).to.have.length(2);
  });

  it('refuses ids that are not session ids, and says how to find one', () => {
    expect(() => loadTranscript(ws, '../etc/passwd')).to.throw(/not a session id/);
    expect(() => loadTranscript(ws, 'nosuch')).to.throw(/agent:list/);
  });
});
