import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, chainSeed, sha256Hex } from '../../../runtime/audit/log.js';
import { type HeadType, SplitBuffers, headType, splitLog, treeRootOf } from '../../../runtime/metrics/split.js';
import { HEADER, SyntheticRun } from '../../support/synthetic-audit.js';

const typeOf = (line: string): HeadType => {
  const buf = Buffer.from(line);
  return headType(buf, 0, buf.length);
};

const HEAD = '{"line_seq":12,"ts":"2026-01-05T09:00:00.000Z","session_id":"s1",';

describe('metrics split', () => {
  let ws: string;
  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'choragen-split-'));
  });
  afterEach(() => fs.rmSync(ws, { recursive: true, force: true }));

  describe('headType', () => {
    it('reads the type of every line AuditLog writes', () => {
      const log = AuditLog.open(ws, 'heads', HEADER(ws));
      const run = new SyntheticRun(ws, 'heads', { log });
      run.start('heads').modelCall('heads').toolCall('heads').end('heads');
      run.close();
      const types = fs
        .readFileSync(log.file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => [JSON.parse(l).type, typeOf(l)]);
      expect(types).to.deep.equal([
        ['run_started', 'other'],
        ['session_started', 'other'],
        ['model_call', 'model_call'],
        ['tool_call', 'tool_call'],
        ['session_ended', 'other'],
        ['log_closed', 'other'],
      ]);
    });

    it('names a call only when the head is exactly AuditLog\'s; anything else is unknown, never a guess', () => {
      expect(typeOf(`${HEAD}"type":"tool_call","seq":1}`)).to.equal('tool_call');
      expect(typeOf(`${HEAD}"type":"model_call"}`)).to.equal('model_call');
      expect(typeOf(`{"line_seq":0,"ts":"t","session_id":null,"type":"tool_call","x":1}`)).to.equal('tool_call');
      expect(typeOf(`${HEAD}"type":"tool_calls","seq":1}`)).to.equal('other');
      expect(typeOf(`${HEAD}"type":"session_started"}`)).to.equal('other');
      for (const line of [
        '{"type":"tool_call","line_seq":12,"ts":"t","session_id":"s1"}', // another key order
        '{ "line_seq":12,"ts":"t","session_id":"s1","type":"tool_call"}', // whitespace
        `${HEAD}"type":"tool\\u005fcall","seq":1}`, // an escape: the bytes are not the value
        `${HEAD}"type":"model\\u005fcall"}`,
        '{"line_seq":12,"ts":"a\\",\\"session_id\\":\\"s\\",\\"type\\":\\"tool_call","session_id":"s1","type":"model_call"}', // quotes in a value
        '{"line_seq":12,"ts":"t","session_id":{"type":"tool_call"},"type":"model_call"}', // nested
        '{"line_seq":,"ts":"t","session_id":"s1","type":"tool_call"}',
        '{"line_seq":1.5,"ts":"t","session_id":"s1","type":"tool_call"}',
        `${HEAD}"type":"tool_call"x}`,
        `${HEAD}"type":"tool_call`, // cut short
        `${HEAD}"type":null}`,
        '',
      ]) {
        expect(typeOf(line), line).to.equal('unknown');
      }
    });
  });

  describe('splitLog', () => {
    /** Lines (each without its closing brace) hash-chained as AuditLog chains them. */
    const chained = (bodies: string[]) => {
      let prev = chainSeed('0.1.0', 'f'.repeat(64));
      return bodies.map((body) => {
        const line = `${body},"prev":"${prev}"}`;
        prev = sha256Hex(line);
        return line;
      });
    };
    const lines = chained([
      `{"line_seq":0,"ts":"t","session_id":"s1","type":"run_started","version":"0.1.0","policy_hash":"${'f'.repeat(64)}","pid":1`,
      `${HEAD.replace('12', '1')}"type":"session_started","root_id":"r"`,
      `${HEAD.replace('12', '2')}"type":"tool_call","seq":1`,
      `${HEAD.replace('12', '3')}"type":"model_call","seq":1`,
      '{"type":"model_call","line_seq":4,"ts":"t","session_id":"s1","seq":2',
      `${HEAD.replace('12', '5')}"type":"model_call","seq":3`,
      `${HEAD.replace('12', '6')}"type":"session_ended"`,
    ]);

    function split(fromLine: number, chunkBytes?: number, tail = '') {
      const file = path.join(ws, 'log.jsonl');
      const text = `${lines.join('\n')}\n`;
      fs.writeFileSync(file, text + tail);
      const fromByte = Buffer.byteLength(lines.slice(0, fromLine).map((l) => `${l}\n`).join(''));
      const buffers = new SplitBuffers();
      if (chunkBytes) buffers.chunk = Buffer.alloc(chunkBytes);
      const job = { file, fromByte, toByte: Buffer.byteLength(text), modelFile: path.join(ws, 'm.jsonl'), otherFile: path.join(ws, 'o.jsonl') };
      const { counts, broken } = splitLog(job, buffers);
      const read = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
      return { counts, broken, model: read(job.modelFile), other: read(job.otherFile) };
    }

    it('checks the hash chain as it reads: intact, or where it breaks and how many lines it still vouches for', () => {
      expect(split(0).broken).to.equal(null);
      const intact = [...lines];
      lines[3] = lines[3].replace('"seq":1', '"seq":7');
      try {
        const r = split(0);
        // Line 4 is named; line 5 no longer vouches for it, so the chain vouches for lines 1-3.
        expect(r.broken).to.deep.include({ line: 4, trusted: 3, trustedHash: sha256Hex(lines[2]!) });
        expect(r.broken!.reason).to.match(/changed after it was written/);
        expect(r.broken!.trustedBytes).to.equal(Buffer.byteLength(`${lines.slice(0, 3).join('\n')}\n`));
        // It stops at the break: the last line is never read.
        expect(Object.values(r.counts).reduce((a, b) => a + b)).to.be.lessThan(lines.length);
      } finally {
        lines.splice(0, lines.length, ...intact);
      }
    });

    it('leaves tool calls in the log, copies model calls and the other lines out, and lines of unknown head to both', () => {
      const r = split(0);
      expect(r.counts).to.deep.equal({ tool_call: 1, model_call: 2, other: 3, unknown: 1 });
      expect(r.model).to.deep.equal([lines[3], lines[4], lines[5]]);
      expect(r.other).to.deep.equal([lines[0], lines[1], lines[4], lines[6]]);
    });

    it('copies model calls only from fromByte on, and the other lines of the whole log', () => {
      const r = split(5);
      expect(r.model).to.deep.equal([lines[5]]);
      expect(r.other).to.deep.equal([lines[0], lines[1], lines[4], lines[6]]);
    });

    it('reads lines longer than its chunk, and stops at toByte (a half-written line is left alone)', () => {
      const r = split(0, 16, `${HEAD}"type":"model_call","se`);
      expect(r.model).to.deep.equal([lines[3], lines[4], lines[5]]);
      expect(r.other).to.have.length(4);
    });
  });

  describe('treeRootOf', () => {
    it('is the root_id of the first session_started line: the original tree for a resumed run\'s log', () => {
      const run = new SyntheticRun(ws, 'resumed', { seed: 1 });
      run.append({ type: 'notice', session_id: 'resumed', kind: 'resume', message: 'resumes session original' });
      run.append({
        type: 'session_started', session_id: 'resumed', parent_id: null, root_id: 'original', role: 'control', depth: 0,
        model: 'm', task_id: null, chain_id: null, started_at: new Date().toISOString(), tools: [],
      });
      run.close();
      expect(treeRootOf(run.log.file, fs.statSync(run.log.file).size)).to.equal('original');
    });

    it('is null for a log without one', () => {
      const log = AuditLog.open(ws, 'empty', HEADER(ws));
      log.close();
      expect(treeRootOf(log.file, fs.statSync(log.file).size)).to.equal(null);
    });
  });
});
