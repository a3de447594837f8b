import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
const r = await c.runAndReadAll(`select '2026-11-25T03:44:22.136Z'::TIMESTAMP a, '2026-11-25T03:44:22.136+02:00'::TIMESTAMP b, current_setting('TimeZone') tz, (SELECT count(*) FROM duckdb_extensions() WHERE loaded) ext`);
console.log(r.getRowObjectsJS());
const r2 = await c.runAndReadAll(`select extension_name, loaded, installed from duckdb_extensions() where loaded`); console.log(r2.getRowObjectsJS());
