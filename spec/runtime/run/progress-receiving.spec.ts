// The two things the long-session work shows in the progress view: a
// streamed answer arriving, and the share of input read from the cache.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type { AuditLine } from '../../../runtime/audit/events.js';
import { finalLine, ProgressView } from '../../../runtime/run/progress-view.js';

const line = (event: Record<string, unknown>) => ({ line_seq: 0, ts: '', prev: '', ...event }) as unknown as AuditLine;

describe('progress view: answers arriving, cache share', () => {
  it('shows the tokens of an answer still arriving on its session\'s row, until the call is recorded', () => {
    const view = new ProgressView('live', new PassThrough(), new PassThrough());
    view.onEvent(line({ type: 'session_started', session_id: 's1', parent_id: null, role: 'impl', depth: 0 }));
    view.onProgress('s1', 120);
    expect(view.tree()[0]).to.match(/receiving ~120 tok$/);
    view.onEvent(line({ type: 'model_call', session_id: 's1', input_tokens: 10, output_tokens: 130, cache_read_tokens: 0, cache_write_tokens: 0 }));
    expect(view.tree()[0]).to.not.include('receiving');
    view.freeze();
  });

  it('ignores progress outside the live view', () => {
    const view = new ProgressView('lines', new PassThrough(), new PassThrough());
    view.onEvent(line({ type: 'session_started', session_id: 's1', parent_id: null, role: 'impl', depth: 0 }));
    view.onProgress('s1', 50);
    expect(view.tree()[0]).to.not.include('receiving');
  });

  it('counts every prompt token as input on the final line, and says what share came from the cache', () => {
    const summary = { status: 'completed', exitCode: 0, rootId: 'r', durationMs: 1500, outputTokens: 7, costUsd: 0.01, sessions: 1, error: null };
    expect(finalLine({ ...summary, inputTokens: 100, cacheReadTokens: 850, cacheWriteTokens: 50 })).to.include('tokens 1,000 in (85% from cache) / 7 out');
    // grouped as metrics:summary groups them: a long session's prompt runs to millions
    expect(finalLine({ ...summary, inputTokens: 0, outputTokens: 2911, cacheReadTokens: 3_075_425, cacheWriteTokens: 302_862 })).to.include('tokens 3,378,287 in (91% from cache) / 2,911 out');
    expect(finalLine({ ...summary, inputTokens: 0 })).to.include('tokens 0 in / 7 out');
    expect(finalLine({ ...summary, inputTokens: 500, cacheReadTokens: 0, cacheWriteTokens: 0 })).to.include('tokens 500 in / 7 out'); // no caching reported
  });
});
