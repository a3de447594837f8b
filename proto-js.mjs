import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';
import fs from 'node:fs';
const N = +process.argv[2];
fs.rmSync('/tmp/proto/m.duckdb',{force:true});
const inst = await DuckDBInstance.create('/tmp/proto/m.duckdb');
const c = await inst.connect();
await c.run(`CREATE TABLE tool_calls(session_id VARCHAR, seq INTEGER, tool VARCHAR, started_at TIMESTAMP, duration_ms BIGINT, decision VARCHAR, rule VARCHAR, path VARCHAR, is_error BOOLEAN, error VARCHAR, tool_use_id VARCHAR, root_id VARCHAR)`);
await c.run(`CREATE TABLE model_calls(session_id VARCHAR, seq INTEGER, started_at TIMESTAMP, duration_ms BIGINT, model VARCHAR, input_tokens BIGINT, output_tokens BIGINT, cache_read_tokens BIGINT, cache_write_tokens BIGINT, stop_reason VARCHAR, retries INTEGER, cost_usd DECIMAL(18,9), error VARCHAR, root_id VARCHAR)`);
const f='/tmp/proto/ws/.choragen/audit/root1.jsonl';
const c0=process.cpuUsage(); let t=Date.now();
const text = fs.readFileSync(f, 'utf8');
const ta = await c.createAppender('tool_calls'); const ma = await c.createAppender('model_calls');
const ts = (s) => new DuckDBTimestampValue(BigInt(Date.parse(s)) * 1000n);
const str = (a, v) => v == null ? a.appendNull() : a.appendVarchar(v);
let start = 0, n = 0;
let tparse=0;
for (let nl = text.indexOf('\n'); nl >= 0; start = nl + 1, nl = text.indexOf('\n', start)) {
  const o = JSON.parse(text.slice(start, nl)); n++;
  if (o.type === 'tool_call') {
    ta.appendVarchar(o.session_id); ta.appendInteger(o.seq); ta.appendVarchar(o.tool); ta.appendTimestamp(ts(o.started_at)); ta.appendBigInt(BigInt(o.duration_ms)); ta.appendVarchar(o.decision); str(ta,o.rule); str(ta,o.path); ta.appendBoolean(o.is_error); str(ta,o.error); str(ta,o.tool_use_id); ta.appendVarchar('root1'); ta.endRow();
  } else if (o.type === 'model_call') {
    ma.appendVarchar(o.session_id); ma.appendInteger(o.seq); ma.appendTimestamp(ts(o.started_at)); ma.appendBigInt(BigInt(o.duration_ms)); ma.appendVarchar(o.model); ma.appendBigInt(BigInt(o.input_tokens)); ma.appendBigInt(BigInt(o.output_tokens)); ma.appendBigInt(BigInt(o.cache_read_tokens)); ma.appendBigInt(BigInt(o.cache_write_tokens)); str(ma,o.stop_reason); ma.appendInteger(o.retries); ma.appendDouble(o.cost_usd); str(ma,o.error); ma.appendVarchar('root1'); ma.endRow();
  }
}
ta.closeSync(); ma.closeSync();
let d=process.cpuUsage(c0); console.log('js path events', n, 'wall', Date.now()-t, 'cpu', (d.user+d.system)/1000);
const r = await c.runAndReadAll('select count(*), sum(input_tokens), sum(cost_usd) from model_calls'); console.log(r.getRows());
c.closeSync(); inst.closeSync();
d=process.cpuUsage(c0); console.log('with close wall', Date.now()-t, 'cpu', (d.user+d.system)/1000);
