// The model gateway fits a conversation to the context window from the
// prompt sizes providers report: a size a provider only estimated (an
// OpenAI-compatible endpoint that sends no usage) is not taken as reported,
// so the window still holds. A stub provider, the real gateway and fit.
import { expect } from 'chai';
import type { Message } from '../../../capabilities/protocol.js';
import type { CompactionEvent } from '../../../runtime/audit/events.js';
import { estimateTokens } from '../../../runtime/broker/context-fit.js';
import { LiveSession } from '../../../runtime/broker/live-session.js';
import { ModelGateway } from '../../../runtime/broker/model-gateway.js';
import type { ModelAnswer, ModelCallSpec, ModelProvider } from '../../../runtime/providers/provider.js';

const WINDOW = 20_000;

/** Answers every call with a read_file call, and a guess of a tiny prompt as its usage (an endpoint that reports none). */
class StubProvider implements ModelProvider {
  readonly name = 'openai' as const;
  /** The size of every prompt it was sent (the gateway's own estimate of it). */
  readonly prompts: number[] = [];
  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    this.prompts.push(estimateTokens({ system: spec.system, tools: spec.tools }) + spec.messages.reduce((n, m) => n + estimateTokens(m), 0));
    const id = `call_${this.prompts.length}`;
    return {
      content: [{ type: 'tool_use', id, name: 'read_file', input: { path: 'src/a.ts' } }],
      stop_reason: 'tool_use',
      usage: { input_tokens: 50, output_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0 },
      model: 'local-model',
      usageEstimated: true,
    };
  }
}

async function converse(provider: StubProvider, turns: number): Promise<CompactionEvent[]> {
  const compactions: CompactionEvent[] = [];
  const gateway = new ModelGateway({
    maxRetries: 0, retryBaseMs: 1, maxOutputTokens: 1000, contextWindow: WINDOW,
    costOf: () => 0, treeStop: () => null, treeSignal: new AbortController().signal,
    record: (e) => void (e.type === 'compaction' && compactions.push(e)),
    afterCall: () => undefined, configError: () => undefined,
  });
  const identity = { id: 's1', role: 'impl', depth: 0, parentId: null, rootId: 's1', taskId: null, chainId: null };
  const session = new LiveSession(identity, ['read_file'], new Set(), 'local-model', provider);
  const setup = { system: 'choragen role: impl', tools: [], onCompacted: () => undefined };
  let append: Message[] = [{ role: 'user', content: 'Read src/a.ts again and again.' }];
  for (let i = 0; i < turns; i++) {
    const reply = await gateway.answer(session, setup, { type: 'model_request', id: i, append });
    expect(reply.type, JSON.stringify(reply)).to.equal('model_reply');
    const use = (reply as { content: Array<{ id: string }> }).content[0]!;
    append = [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'x'.repeat(6000) }] }];
  }
  return compactions;
}

describe('model gateway: the context window and reported usage', () => {
  it('a prompt size the provider only estimated is not taken as reported: the conversation is compacted in time', async () => {
    const provider = new StubProvider();
    const compactions = await converse(provider, 30);
    expect(compactions.length).to.be.greaterThan(0);
    expect(Math.max(...provider.prompts)).to.be.at.most(WINDOW);
  });
});
