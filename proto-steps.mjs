import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
fs.rmSync('/tmp/proto/s.duckdb',{force:true});
const f='/tmp/proto/ws/.choragen/audit/root1.jsonl';
const inst = await DuckDBInstance.create(process.argv[2]==='mem'?':memory:':'/tmp/proto/s.duckdb');
const c = await inst.connect();
async function T(label, sql){ const c0=process.cpuUsage(); const t=Date.now(); await c.run(sql); const d=process.cpuUsage(c0); console.log(label, 'wall', Date.now()-t, 'cpu', Math.round((d.user+d.system)/1000)); }
await T('varchar-only', `CREATE TEMP TABLE r0 AS SELECT * FROM read_json('${f}', format='newline_delimited', columns={line_seq:'BIGINT', type:'VARCHAR'})`);
await T('full cols', `CREATE TEMP TABLE r1 AS SELECT * FROM read_json('${f}', format='newline_delimited', ignore_errors=true, columns={line_seq:'BIGINT', ts:'TIMESTAMP', session_id:'VARCHAR', type:'VARCHAR', seq:'INTEGER', started_at:'TIMESTAMP', duration_ms:'DOUBLE', model:'VARCHAR', input_tokens:'BIGINT', output_tokens:'BIGINT', cache_read_tokens:'BIGINT', cache_write_tokens:'BIGINT', cost_usd:'DOUBLE', stop_reason:'VARCHAR', retries:'INTEGER', tool:'VARCHAR', tool_use_id:'VARCHAR', decision:'VARCHAR', rule:'VARCHAR', path:'VARCHAR', is_error:'BOOLEAN', error:'VARCHAR'})`);
await T('count raw', `SELECT count(*) FROM read_json('${f}', format='newline_delimited', columns={line_seq:'BIGINT'})`);
await T('read_text', `CREATE TEMP TABLE r2 AS SELECT * FROM read_text('${f}')`);
await T('create tc', `CREATE TABLE tc AS SELECT session_id, seq, tool, started_at, duration_ms, decision, rule, path, is_error, error, tool_use_id FROM r1 WHERE type='tool_call'`);
await T('checkpoint', `CHECKPOINT`);
