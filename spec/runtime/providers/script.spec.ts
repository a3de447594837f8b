import { expect } from 'chai';
import { UsageError } from '../../../policy/errors.js';
import { parseScript, type Script } from '../../../runtime/providers/script/format.js';
import { detectRole, ScriptedModel, SCRIPT_ENDED_TEXT } from '../../../runtime/providers/script/replay.js';
import type { Message } from '../../../capabilities/protocol.js';

const CONTROL = 'You are the choragen control agent. You may spawn a choragen impl agent.';
const IMPL = 'You are a choragen impl agent.';

function parseError(text: string, file = 'demo.json'): UsageError {
  try {
    parseScript(text, file);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('runtime/script', () => {
  describe('parseScript', () => {
    it('accepts a JSON script with every optional field', () => {
      const script = parseScript(
        JSON.stringify({
          model: 'claude-test',
          sessions: [
            {
              role: 'control',
              match: 'hello',
              turns: [
                {
                  content: [
                    { type: 'text', text: 'hi' },
                    { type: 'tool_use', id: 'toolu_x', name: 'read_file', input: { path: 'a' } },
                  ],
                  stop_reason: 'tool_use',
                  usage: { input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 3, cache_creation_input_tokens: 4 },
                  delay_ms: 5,
                  failures: [529, 'reset', 429],
                  retry_after_ms: 10,
                  malformed: false,
                },
              ],
            },
          ],
        }),
        'ok.json',
      );
      expect(script.sessions[0]!.turns[0]!.failures).to.deep.equal([529, 'reset', 429]);
    });

    it('accepts YAML when the file ends in .yaml or .yml', () => {
      const yaml = 'sessions:\n  - role: impl\n    turns:\n      - content:\n          - { type: text, text: done }\n';
      expect(parseScript(yaml, 's.yaml').sessions[0]!.role).to.equal('impl');
      expect(parseScript(yaml, 's.yml').sessions[0]!.turns).to.have.length(1);
    });

    it('names the file and line of a JSON syntax error', () => {
      const err = parseError('{\n  "sessions": [\n    }\n', 'broken.json');
      expect(err.message).to.match(/^broken\.json:3: invalid JSON: /);
      expect(err.message).not.to.include('\n');
    });

    it('names the file and line of a YAML syntax error', () => {
      const err = parseError('sessions:\n  - role: impl\n   turns: [\n', 'bad.yaml');
      expect(err.message).to.match(/^bad\.yaml:\d+: invalid YAML: /);
    });

    it('names the key path and line of an unknown key', () => {
      const text = JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [], delay: 3 }] }] }, null, 2);
      const err = parseError(text);
      expect(err.message).to.match(/^demo\.json:\d+: sessions\[0\]\.turns\[0\]: unknown key "delay"$/);
      const line = Number(/^demo\.json:(\d+)/.exec(err.message)![1]);
      expect(text.split('\n')[line - 1]).to.include('{'); // the turn object that holds the bad key
    });

    it('accepts any role name a policy may define', () => {
      const script = parseScript(JSON.stringify({ sessions: [{ role: 'reviewer', turns: [] }, { role: 'db-admin2', turns: [] }] }), 's.json');
      expect(script.sessions.map((s) => s.role)).to.deep.equal(['reviewer', 'db-admin2']);
    });

    it('rejects a bad role, a bad block, a bad failure status and an empty session list', () => {
      for (const role of ['Admin', '2nd', 'code_review', '']) {
        expect(parseError(JSON.stringify({ sessions: [{ role, turns: [] }] })).message).to.match(
          /sessions\[0\]\.role: must be a role name: a lowercase letter, then lowercase letters, digits or "-"$/,
        );
      }
      const block = parseError(JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [{ type: 'image' }] }] }] }));
      expect(block.message).to.include('sessions[0].turns[0].content[0]');
      const failure = parseError(JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [], failures: [200] }] }] }));
      expect(failure.message).to.include('sessions[0].turns[0].failures[0]');
      expect(parseError(JSON.stringify({ sessions: [] })).message).to.include('sessions');
    });

    it('checks a block against the branch its type names', () => {
      const block = (b: unknown) => parseError(JSON.stringify({ sessions: [{ role: 'impl', turns: [{ content: [b] }] }] })).message;
      expect(block({ type: 'tool_use', name: 'x', input: {}, extra: 1 })).to.match(/content\[0\]: unknown key "extra"$/);
      expect(block({ type: 'tool_use', name: 3, input: {} })).to.match(/content\[0\]\.name: must be string$/);
      expect(block({ type: 'text' })).to.match(/content\[0\]: must have required properties text$/);
      expect(block({ type: 'image' })).to.match(/content\[0\]: must be \{"type":"text"/);
    });

    it('rejects a document that is not an object', () => {
      expect(parseError('[]').message).to.match(/^demo\.json:1: /);
    });
  });

  describe('detectRole', () => {
    it('takes the role whose phrase comes first, in strings and text blocks', () => {
      expect(detectRole(CONTROL)).to.equal('control');
      expect(detectRole(IMPL)).to.equal('impl');
      expect(detectRole([{ type: 'text', text: 'x' }, { type: 'text', text: IMPL, cache_control: { type: 'ephemeral' } }])).to.equal('impl');
    });

    it('takes the role from the `choragen role: <name>` line first, any role name', () => {
      expect(detectRole('You review code.\nchoragen role: reviewer\nBe brief.')).to.equal('reviewer');
      expect(detectRole(`${IMPL}\nchoragen role: control`)).to.equal('control');
      expect(detectRole([{ type: 'text', text: 'Intro' }, { type: 'text', text: 'choragen role: db-admin\r\nmore' }])).to.equal('db-admin');
      // only the exact line counts: not inline, not indented, not a bad name
      expect(() => detectRole('See "choragen role: reviewer" below')).to.throw(UsageError, /cannot tell the session role/);
      expect(() => detectRole('  choragen role: reviewer')).to.throw(UsageError, /cannot tell the session role/);
      expect(detectRole(`choragen role: Reviewer\n${IMPL}`)).to.equal('impl');
    });

    it('refuses a system prompt that names no role', () => {
      expect(() => detectRole('You are helpful.')).to.throw(UsageError, /cannot tell the session role/);
    });
  });

  describe('ScriptedModel', () => {
    const script: Script = {
      model: 'scripted-default',
      sessions: [
        {
          role: 'control',
          turns: [
            { content: [{ type: 'text', text: 'plan' }, { type: 'tool_use', name: 'spawn_impl_session', input: { instructions: 'A' } }] },
            { content: [{ type: 'text', text: 'review' }], usage: { input_tokens: 7 } },
          ],
        },
        { role: 'impl', match: 'farewell', turns: [{ content: [{ type: 'text', text: 'farewell done' }] }] },
        { role: 'impl', turns: [{ content: [{ type: 'text', text: 'first unmatched' }] }] },
        { role: 'impl', turns: [{ content: [{ type: 'text', text: 'second unmatched' }] }] },
        {
          role: 'control',
          match: 'flaky',
          turns: [
            {
              content: [{ type: 'tool_use', id: 'toolu_given', name: 'write_file', input: { path: 'a', content: 'b' } }],
              failures: [529, 'reset', 429],
              retry_after_ms: 1500,
              delay_ms: 20,
              malformed: true,
            },
          ],
        },
      ],
    };
    const user = (text: string): Message => ({ role: 'user', content: text });

    it('answers turn by turn with deterministic tool ids, stop reasons and ids', () => {
      const model = new ScriptedModel(script);
      const first = model.reply({ system: CONTROL, messages: [user('go')], model: 'm1' });
      expect(first).to.include({ role: 'control', session: 0, turn: 0, attempt: 1, stop_reason: 'tool_use', model: 'm1' });
      expect(first.id).to.equal('msg_scripted_0_0_1');
      expect(first.content[1]).to.deep.equal({ type: 'tool_use', id: 'toolu_0_0_1', name: 'spawn_impl_session', input: { instructions: 'A' } });
      expect(first.failure).to.equal(null);

      const messages: Message[] = [
        user('go'),
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_0_0_1', content: 'ok' }] },
      ];
      const second = model.reply({ system: CONTROL, messages, model: '' });
      expect(second).to.include({ turn: 1, stop_reason: 'end_turn', model: 'scripted-default' });
      expect(second.usage.input_tokens).to.equal(7);

      const third = model.reply({ system: CONTROL, messages: [...messages, { role: 'assistant', content: 'x' }, user('more')] });
      expect(third).to.include({ turn: 2, ended: true, stop_reason: 'end_turn' });
      expect(third.content).to.deep.equal([{ type: 'text', text: SCRIPT_ENDED_TEXT }]);
    });

    it('computes real-shaped usage from the bytes when the script gives none', () => {
      const model = new ScriptedModel(script);
      const messages = [user('héllo')];
      const reply = model.reply({ system: CONTROL, messages });
      const inBytes = Buffer.byteLength(JSON.stringify({ system: CONTROL, messages }), 'utf8');
      const outBytes = Buffer.byteLength(JSON.stringify(reply.content), 'utf8');
      expect(reply.usage).to.deep.equal({
        input_tokens: Math.ceil(inBytes / 4),
        output_tokens: Math.ceil(outBytes / 4),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      });
    });

    it('matches sessions by role and `match`, then gives the Nth distinct conversation the Nth unmatched entry', () => {
      const model = new ScriptedModel(script);
      const text = (first: string) => (model.reply({ system: IMPL, messages: [user(first)] }).content[0] as { text: string }).text;
      expect(text('write tests')).to.equal('first unmatched');
      expect(text('Add a farewell function')).to.equal('farewell done');
      expect(text('write tests')).to.equal('first unmatched'); // same conversation, same entry
      expect(text('fix the docs')).to.equal('second unmatched');
      expect(() => text('a third one')).to.throw(UsageError, /no impl session for impl conversation #4/);
    });

    it('takes an explicit role over the system prompt', () => {
      const model = new ScriptedModel(script);
      expect(model.reply({ system: CONTROL, messages: [user('x')], role: 'impl' }).role).to.equal('impl');
      expect(model.reply({ messages: [user('y')] }, 'impl').role).to.equal('impl');
    });

    it('fails the first attempts as scripted, counting per conversation and turn, then succeeds', () => {
      const model = new ScriptedModel(script);
      const ask = () => model.reply({ system: CONTROL, messages: [user('a flaky run')] });
      expect(ask().failure).to.deep.equal({ kind: 'status', status: 529, retry_after_ms: 1500 });
      expect(ask().failure).to.deep.equal({ kind: 'reset' });
      expect(ask().failure).to.deep.equal({ kind: 'status', status: 429, retry_after_ms: 1500 });
      const ok = ask();
      expect(ok).to.include({ attempt: 4, failure: null, delay_ms: 20, malformed: true });
      expect(ok.content[0]).to.include({ type: 'tool_use', id: 'toolu_given' });
      const input = (ok.content[0] as { input: unknown }).input;
      expect(input).to.be.a('string');
      expect(() => JSON.parse(input as string)).to.throw();
    });

    it('refuses a request without a user message', () => {
      expect(() => new ScriptedModel(script).reply({ system: CONTROL, messages: [] })).to.throw(UsageError, /no user message/);
    });
  });
});
