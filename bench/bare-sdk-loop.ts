// The e2e baseline: the same conversation as a choragen impl session, driven
// by a bare @anthropic-ai/sdk loop in one process with direct fs reads: no
// broker, no workers, no policy, no audit. What choragen costs on top of this
// is its overhead.
//
//   node dist/bench/bare-sdk-loop.js --base-url URL --conversation FILE --workspace DIR
//
// FILE holds the first request's model, system, tools, max_tokens and first
// message (the bench copies them from choragen's own first request, so both
// send the same bytes). Each call streams, as choragen's do (the same call on
// the wire), and the answer is put together from the events with the least
// code that does it. Prints `turns N tool_calls M` and exits 0.
import Anthropic from '@anthropic-ai/sdk';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface Conversation {
  model: string;
  system: string | Anthropic.TextBlockParam[];
  tools: Anthropic.Tool[];
  max_tokens: number;
  first: Anthropic.MessageParam;
}

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** Numbered lines, as read_file shows them, so both sides send the same tool results. */
function numbered(text: string): string {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return lines.map((line, i) => `${i + 1}\t${line}`).join('\n');
}

async function main(): Promise<void> {
  const workspace = arg('--workspace');
  const conversation = JSON.parse(await readFile(arg('--conversation'), 'utf8')) as Conversation;
  const client = new Anthropic({ apiKey: 'bench', baseURL: arg('--base-url'), maxRetries: 0 });
  const messages: Anthropic.MessageParam[] = [conversation.first];
  let turns = 0;
  let toolCalls = 0;
  for (;;) {
    // Streamed, as choragen's own calls are: the same call on the wire, assembled as simply as it can be.
    const stream = await client.messages.create({
      model: conversation.model, system: conversation.system, tools: conversation.tools, max_tokens: conversation.max_tokens, messages, stream: true,
    });
    const reply = { content: [] as Array<Anthropic.TextBlock | Anthropic.ToolUseBlock> };
    const json: string[] = [];
    for await (const event of stream) {
      if (event.type === 'content_block_start') {
        reply.content[event.index] = event.content_block as Anthropic.TextBlock | Anthropic.ToolUseBlock;
        json[event.index] = '';
      } else if (event.type === 'content_block_delta') {
        const block = reply.content[event.index]!;
        if (event.delta.type === 'text_delta' && block.type === 'text') block.text += event.delta.text;
        if (event.delta.type === 'input_json_delta') json[event.index] += event.delta.partial_json;
      } else if (event.type === 'content_block_stop') {
        const block = reply.content[event.index]!;
        if (block.type === 'tool_use' && json[event.index]) block.input = JSON.parse(json[event.index]!);
      }
    }
    turns++;
    messages.push({ role: 'assistant', content: reply.content });
    const uses = reply.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    if (uses.length === 0) break;
    const results: Anthropic.ToolResultBlockParam[] = [];
    for (const use of uses) {
      toolCalls++;
      const rel = (use.input as { path: string }).path;
      results.push({ type: 'tool_result', tool_use_id: use.id, content: numbered(await readFile(path.join(workspace, rel), 'utf8')) });
    }
    messages.push({ role: 'user', content: results });
  }
  process.stdout.write(`turns ${turns} tool_calls ${toolCalls}\n`);
}

main().catch((err) => {
  process.stderr.write(`bare-sdk-loop: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
