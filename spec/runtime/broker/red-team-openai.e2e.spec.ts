// The red team's class 3 (issue 15: a model-supplied value that overflows the
// stack of whatever converts it) on the OpenAI-compatible path: a hostile
// endpoint streams chunks whose tool name, id, arguments, content and refusal
// are deeply nested arrays, and a finish_reason named like an Object property.
// The real CLI, workers and the fake OpenAI server: each hostile call comes
// back to the model as a refused tool call, the call with a usable name and
// arguments runs, nothing overflows, and the run goes on.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { verifyAuditFile } from '../../../runtime/audit/verify.js';
import { jsonEvents, runCli } from '../../support/cli.js';
import { useFakeOpenAIRun } from '../../support/fake-run.js';
import { auditText, metricsRows, resultsOf } from '../../support/run-records.js';

/** Deep enough that String() of it overflows the stack; shallow enough that the fake can still send it as JSON. */
const DEPTH = 3500;
const deep = () => JSON.parse(`${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`);

/** One hostile answer, as Chat Completions chunks. */
function hostileChunks(): unknown[] {
  const base = { id: 'chatcmpl-hostile', object: 'chat.completion.chunk', created: 0, model: 'gpt-5-mini' };
  const call = (index: number, id: unknown, name: unknown, args: unknown) => ({ index, id, type: 'function', function: { name, arguments: args } });
  return [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: deep(), refusal: deep() }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [
      call(0, 'call_deep_name', deep(), '{}'),
      call(1, 'call_deep_args', 'read_file', deep()),
      call(2, 'call_deep_json', 'read_file', `{"path":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`),
      call(3, deep(), 'read_file', '{"path":"src/a.ts"}'),
    ] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'constructor' }] },
    { ...base, choices: [], usage: { prompt_tokens: 900, completion_tokens: 40 } },
  ];
}

describe('red team on the OpenAI-compatible path (issue 15 class 3, issue 18)', function () {
  this.timeout(60_000);
  const run = useFakeOpenAIRun();

  it('tool name, id, arguments and content as deeply nested arrays: refused tool calls, the usable call runs, the run goes on', async () => {
    run.workspace({ 'src/a.ts': 'export const a = 1;\n', 'src/index.ts': 'export {};\n' });
    const server = await run.serve({ sessions: [{ role: 'impl', turns: [
      { content: [{ type: 'text', text: 'never sent: the hostile stream answers this turn' }] },
      { content: [{ type: 'tool_use', id: 'call_after', name: 'read_file', input: { path: 'src/index.ts' } }] },
      { content: [{ type: 'text', text: 'survived' }] },
    ] }] } as any, { faults: [{ kind: 'stream', events: hostileChunks() }] });
    const r = await runCli(['agent:start', '--role', 'impl', '-m', 'red team', '--provider', 'openai', '--json', '--no-record-commits', '-w', run.ws], { env: run.env() });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.not.match(/RangeError|DataCloneError|\n\s+at /);
    expect(server.requests.map((q) => q.status)).to.deep.equal([200, 200, 200]);

    const results = resultsOf(server);
    expect(results.get('call_deep_name').content).to.equal('Error: invalid tool call: the tool name must be a string');
    for (const id of ['call_deep_args', 'call_deep_json']) expect(results.get(id).content).to.match(/^Error: .*nested deeper than/);
    // The call whose id was not a string got one of its own, and ran.
    const renamed = [...results.keys()].filter((id) => /^call_[0-9a-f]{8}_3$/.test(id));
    expect(renamed).to.have.length(1);
    expect(results.get(renamed[0]!).content).to.include('export const a = 1;');
    expect(results.get('call_after').content).to.include('export {};');
    // What the model is shown of its hostile turn: the refused calls without their input, no deep value anywhere.
    const sent = JSON.stringify(server.requests[1]!.body.messages);
    expect(sent).to.include('"name":"(not a string)"');
    expect(sent).to.not.include('[[[[');

    const events = jsonEvents(r.stdout);
    expect(events.find((e) => e.event === 'model_call')).to.include({ stop_reason: 'constructor' });
    expect(events.find((e) => e.event === 'session_ended')).to.include({ status: 'completed', final_text: 'survived' });
    expect(auditText(run.ws)).to.not.include('[[[[');
    const dir = path.join(run.ws, '.choragen', 'audit');
    for (const f of readdirSync(dir)) expect(verifyAuditFile(path.join(dir, f)).ok, f).to.equal(true);

    expect(await metricsRows(run.ws, 'SELECT tool, decision, rule, is_error FROM tool_calls ORDER BY seq')).to.deep.equal([
      { tool: '(not a string)', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: 'read_file', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: 'read_file', decision: 'invalid', rule: 'input-bounds', is_error: true },
      { tool: 'read_file', decision: 'allow', rule: 'reads.default', is_error: false },
      { tool: 'read_file', decision: 'allow', rule: 'reads.default', is_error: false },
    ]);
  });
});
