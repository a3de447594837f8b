// A tool call still running when its session is stopped (a budget stop, a
// Ctrl-C, a timeout) is recorded as stopped, with the reason, never as an
// internal error (issue 19 item 8).
import { expect } from 'chai';
import { Type } from '@sinclair/typebox';
import type { Capability } from '../../../capabilities/capability.js';
import type { ToolCallEvent } from '../../../runtime/audit/events.js';
import { LiveSession } from '../../../runtime/broker/live-session.js';
import { ToolDispatcher } from '../../../runtime/broker/tool-dispatcher.js';

const slow: Capability = {
  name: 'slow_tool', description: 'waits, then checks whether it should stop', input: Type.Object({}), defaultRoles: ['impl'],
  async run(ctx: { signal: AbortSignal }) {
    await new Promise((r) => setTimeout(r, 10));
    ctx.signal.throwIfAborted();
    return 'done';
  },
} as unknown as Capability;

describe('tool dispatcher', () => {
  it('a call in flight when the session stops is recorded as stopped with the reason, not as an internal error', async () => {
    const records: ToolCallEvent[] = [];
    const dispatcher = new ToolDispatcher(new Map([['slow_tool', slow]]), { services: () => ({}) } as any, (e) => records.push(e));
    const session = new LiveSession({ id: 's1', role: 'impl', depth: 0, parentId: null, rootId: 's1', taskId: null, chainId: null }, ['slow_tool'], new Set(), 'm', {} as any);
    const reply = dispatcher.handle(session, 'slow_tool', { type: 'tool_request', id: 1, tool_use_id: 't1', input: {} } as any, session.abort.signal);
    session.abort.abort('budget exceeded (57761/20000 tokens)');
    const answer = await reply;
    expect(answer.is_error).to.equal(true);
    expect(answer.content).to.equal('slow_tool was stopped: budget exceeded (57761/20000 tokens)');
    expect(records[0]).to.include({ is_error: true, error: 'slow_tool was stopped: budget exceeded (57761/20000 tokens)' });
    expect(records[0]!.error).to.not.include('internal error');
  });

  it('a call that arrives after its session was told to stop is not run, and says so (issue 16)', async () => {
    let ran = 0;
    const effect = { ...slow, name: 'effect_tool', async run() { ran++; return 'done'; } } as unknown as Capability;
    const records: ToolCallEvent[] = [];
    const dispatcher = new ToolDispatcher(new Map([['effect_tool', effect]]), { services: () => ({}) } as any, (e) => records.push(e));
    const session = new LiveSession({ id: 's1', role: 'impl', depth: 0, parentId: null, rootId: 's1', taskId: null, chainId: null }, ['effect_tool'], new Set(), 'm', {} as any);
    session.abort.abort('cannot write the session journal x.jsonl: no space left on device (ENOSPC)');
    const answer = await dispatcher.handle(session, 'effect_tool', { type: 'tool_request', id: 1, tool_use_id: 't1', input: {} } as any, session.abort.signal);
    expect(ran).to.equal(0);
    expect(answer).to.include({ is_error: true, content: 'effect_tool was not run: cannot write the session journal x.jsonl: no space left on device (ENOSPC)' });
    expect(records[0]).to.include({ is_error: true, error: answer.content });
  });
});
