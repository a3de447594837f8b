// The agent loop of one session: ask the model port for the next assistant
// message, run its tool_use blocks concurrently through the tool ports, send
// the results back, until the model ends its turn or calls complete_task.
// The loop holds no authority: everything it does goes through the ports.
import type {
  ContentBlock, Message, ModelPortIn, ModelRequest, SessionOutcome, SessionTask, TextBlock,
  ToolReply, ToolRequest, ToolResultBlock, ToolUseBlock,
} from '../capabilities/protocol.js';
import { PortClient } from './port-client.js';

interface ToolRun { block: ToolResultBlock; reply?: ToolReply }

export async function runAgentLoop(task: SessionTask): Promise<SessionOutcome> {
  const model = new PortClient<ModelRequest, ModelPortIn>(task.model);
  const tools = new Map(Object.entries(task.tools).map(([name, port]) => [name, new PortClient<ToolRequest, ToolReply>(port)]));
  const messages: Message[] = [...task.messages];
  let sent = messages.length; // the broker already holds the first messages
  let finalText = '';
  let turns = 0;
  try {
    while (turns < task.maxTurns) {
      const reply = await model.request({ type: 'model_request', append: messages.slice(sent) });
      if (reply.type === 'model_stop') return { status: reply.status, finalText, turns, error: reply.reason };
      turns++;
      const content = Array.isArray(reply.content) ? reply.content : [];
      messages.push({ role: 'assistant', content });
      sent = messages.length; // the broker recorded this reply itself
      const text = textOf(content);
      if (text) finalText = text;
      const uses = content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
      if (uses.length === 0) {
        const error = content.length === 0 ? 'the model returned an empty message' : null;
        return { status: 'completed', finalText, turns, error };
      }
      // All tool_use blocks of one message run concurrently (parallel spawns).
      const runs = await Promise.all(uses.map((use) => runTool(use, reply.refused)));
      messages.push({ role: 'user', content: runs.map((r) => r.block) });
      const end = runs.find((r) => r.reply?.ends_session);
      if (end) return { status: 'completed', finalText: end.reply?.final_text ?? finalText, turns, error: null };
    }
    return { status: 'failed', finalText, turns, error: `stopped after --max-turns ${task.maxTurns} model turns` };
  } finally {
    model.close();
    for (const client of tools.values()) client.close();
  }

  async function runTool(use: ToolUseBlock, refused: Record<string, string> | undefined): Promise<ToolRun> {
    const client = tools.get(use.name);
    const refusal = refused && Object.hasOwn(refused, use.id) ? refused[use.id] : undefined;
    if (!client || typeof refusal === 'string') {
      // The broker has already audited this refusal when it saw the reply.
      const content = typeof refusal === 'string' ? refusal : `tool "${String(use.name)}" is not available to this session`;
      return { block: { type: 'tool_result', tool_use_id: use.id, content, is_error: true } };
    }
    const reply = await client.request({ type: 'tool_request', tool_use_id: use.id, input: use.input });
    const block: ToolResultBlock = { type: 'tool_result', tool_use_id: use.id, content: reply.content };
    if (reply.is_error) block.is_error = true;
    return { block, reply };
  }
}

function textOf(content: ContentBlock[]): string {
  return content
    .filter((b): b is TextBlock => b.type === 'text' && typeof b.text === 'string') // content came through a port: checked, not assumed
    .map((b) => b.text)
    .join('\n')
    .trim();
}
