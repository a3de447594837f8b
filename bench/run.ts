// `npm run bench`: every benchmark of DESIGN.md §8 / docs/performance.md, a
// readable table on stdout, and with `--json` one JSON object as the last
// line. `--only name,name` runs a subset (names as in the table's first
// column). Never part of `npm test`: specs hold behavior, this holds speed.
import { benchChildSpawn } from './child-spawn.js';
import { benchConcurrentSessions } from './concurrent-sessions.js';
import { benchE2e } from './e2e.js';
import { benchHelp } from './help.js';
import { benchLongSession } from './long-session.js';
import { benchMetrics } from './metrics.js';
import { benchPolicy } from './policy.js';
import { benchStartup } from './startup.js';
import type { SideBySideResult } from './side-by-side.js';
import { benchStall } from './stall.js';
import { machineLoad, round } from './stats.js';
import { benchToolCall } from './tool-call.js';
import { benchRunCommand } from './run-command.js';

/** The JSON keys, in order (units in the names). */
const KEYS = [
  'tool_call_overhead_us_p50', 'tool_call_overhead_us_p99', 'policy_decisions_per_s', 'policy_naive_decisions_per_s',
  'child_spawn_ms_p50', 'concurrent_sessions', 'rss_mb_at_max', 'ingest_events_per_s', 'summary_1m_ms', 'help_ms', 'startup_ratio_vs_bare_sdk', 'e2e_ratio_vs_bare_sdk',
  'cache_billed_ratio', 'compactions_120_turns_60k',
  'run_command_overhead_ms_p50',
  'broker_max_stall_ms',
] as const;
type Key = (typeof KEYS)[number];

interface Row { key: Key; value: number; goal: string; ok: boolean | null; note: string }

const GOALS: Partial<Record<Key, [string, (v: number) => boolean]>> = {
  tool_call_overhead_us_p50: ['< 100', (v) => v < 100],
  policy_decisions_per_s: ['> 1,000,000', (v) => v > 1_000_000],
  child_spawn_ms_p50: ['< 50', (v) => v < 50],
  concurrent_sessions: ['>= 200', (v) => v >= 200],
  ingest_events_per_s: ['> 500,000', (v) => v > 500_000],
  summary_1m_ms: ['< 200', (v) => v < 200],
  help_ms: ['< 300', (v) => v < 300],
  startup_ratio_vs_bare_sdk: ['<= 1.3', (v) => v <= 1.3],
  e2e_ratio_vs_bare_sdk: ['<= 1.5', (v) => v <= 1.5],
  cache_billed_ratio: ['<= 0.15', (v) => v <= 0.15],
  broker_max_stall_ms: ['< 100', (v) => v < 100],
};

const BENCHES: Array<{ name: string; run: () => Promise<Partial<Record<Key, number>> & { notes?: Partial<Record<Key, string>> }> }> = [
  { name: 'policy', run: async () => {
    const r = await benchPolicy();
    const ratio = `${round(r.policy_decisions_per_s / r.policy_naive_decisions_per_s, 1)}x the naive matcher`;
    return { ...r, notes: { policy_decisions_per_s: ratio, policy_naive_decisions_per_s: 'glob -> RegExp on every call' } };
  } },
  { name: 'tool-call', run: async () => {
    const r = await benchToolCall();
    const note = `round trip p50 ${round(r.roundTrip.p50)} µs, bare port + read p50 ${round(r.bare.p50)} µs`;
    return { tool_call_overhead_us_p50: r.tool_call_overhead_us_p50, tool_call_overhead_us_p99: r.tool_call_overhead_us_p99,
      notes: { tool_call_overhead_us_p50: note, tool_call_overhead_us_p99: `round trip p99 ${round(r.roundTrip.p99)} µs, bare p99 ${round(r.bare.p99)} µs` } };
  } },
  { name: 'child-spawn', run: async () => {
    const r = await benchChildSpawn();
    return { child_spawn_ms_p50: r.child_spawn_ms_p50, notes: { child_spawn_ms_p50: `p90 ${round(r.spawn.p90, 2)} ms, n=${r.spawn.n}` } };
  } },
  { name: 'concurrent', run: async () => {
    const r = await benchConcurrentSessions();
    const last = r.attempts[r.attempts.length - 1];
    const failed = r.attempts.filter((a) => !a.ok).map((a) => `${a.sessions}: ${a.error}`).join('; ');
    return { concurrent_sessions: r.concurrent_sessions, rss_mb_at_max: r.rss_mb_at_max,
      notes: { concurrent_sessions: `all alive after ${last?.ms ?? 0} ms${failed ? `; failed ${failed}` : ''}`, rss_mb_at_max: 'whole process, workers included' } };
  } },
  { name: 'metrics', run: async () => {
    const r = await benchMetrics();
    return { ingest_events_per_s: r.ingest_events_per_s, summary_1m_ms: r.summary_1m_ms,
      notes: { ingest_events_per_s: `${r.events} lines in ${Math.round(r.ingest_ms)} ms`, summary_1m_ms: `${r.tool_calls} tool calls` } };
  } },
  { name: 'help', run: async () => {
    const r = await benchHelp();
    return { help_ms: r.help_ms, notes: { help_ms: `node -e 0 alone: ${round(r.node_startup_ms)} ms` } };
  } },
  { name: 'startup', run: async () => {
    const r = await benchStartup();
    return { startup_ratio_vs_bare_sdk: r.ratio, notes: { startup_ratio_vs_bare_sdk: pairNote(r) } };
  } },
  { name: 'run-command', run: async () => {
    const r = await benchRunCommand();
    return { run_command_overhead_ms_p50: r.run_command_overhead_ms_p50,
      notes: { run_command_overhead_ms_p50: `sandboxed true p50 ${round(r.sandboxed.p50)} ms (p90 ${round(r.sandboxed.p90)}), bare spawn p50 ${round(r.bare.p50, 2)} ms; plan, listings, bubblewrap, check` } };
  } },
  { name: 'stall', run: async () => {
    const r = await benchStall();
    const each = Object.entries(r.perCall).map(([name, ms]) => `${name} ${round(ms, 1)}`).join(', ');
    return { broker_max_stall_ms: r.broker_max_stall_ms, notes: { broker_max_stall_ms: `longest event-loop stall per call (ms): ${each}` } };
  } },
  { name: 'e2e', run: async () => {
    const r = await benchE2e();
    return { e2e_ratio_vs_bare_sdk: r.ratio, notes: { e2e_ratio_vs_bare_sdk: pairNote(r) } };
  } },
  { name: 'long-session', run: async () => {
    const r = await benchLongSession();
    return { cache_billed_ratio: r.cache_billed_ratio, compactions_120_turns_60k: r.compactions_120_turns_60k,
      notes: {
        cache_billed_ratio: `${(r.uncached_input_tokens / 1e6).toFixed(2)} M prompt tokens in 120 requests, ${(100 * r.cache_hit_rate).toFixed(1)}% read from the cache`,
        compactions_120_turns_60k: `largest prompt ${r.largest_prompt_60k.toLocaleString('en-US')} tokens (the server refuses over 60,000)`,
      } };
  } },
];

function pairNote(r: SideBySideResult): string {
  return `choragen ${Math.round(r.choragen_ms)} ms vs bare SDK ${Math.round(r.bare_sdk_ms)} ms (medians of ${r.choragen_runs_ms.length} interleaved pairs)`;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(round(v, Math.abs(v) < 10 ? 2 : 1));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',')) : null;
  const unknown = only ? [...only].filter((n) => !BENCHES.some((b) => b.name === n)) : [];
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})\n`);
    return 2;
  }
  const loadBefore = machineLoad();
  const t0 = performance.now();
  const values: Partial<Record<Key, number>> = {};
  const notes: Partial<Record<Key, string>> = {};
  const failures: string[] = [];
  for (const bench of BENCHES) {
    if (only && !only.has(bench.name)) continue;
    const started = performance.now();
    process.stderr.write(`bench: ${bench.name} ...`);
    try {
      const { notes: n, ...v } = await bench.run();
      Object.assign(values, v);
      Object.assign(notes, n);
      process.stderr.write(` ${Math.round((performance.now() - started) / 1000)} s\n`);
    } catch (err) {
      failures.push(`${bench.name}: ${(err as Error).message.split('\n')[0]}`);
      process.stderr.write(` FAILED: ${(err as Error).message.split('\n')[0]}\n`);
    }
  }
  const load = machineLoad();
  const rows: Row[] = KEYS.filter((k) => values[k] !== undefined).map((key) => {
    const goal = GOALS[key];
    return { key, value: values[key]!, goal: goal?.[0] ?? '', ok: goal ? goal[1](values[key]!) : null, note: notes[key] ?? '' };
  });
  const width = Math.max(...rows.map((r) => r.key.length), 6);
  const lines = [
    `${'metric'.padEnd(width)}  ${'value'.padStart(12)}  ${'goal'.padEnd(12)}  note`,
    ...rows.map((r) => `${r.key.padEnd(width)}  ${fmt(r.value).padStart(12)}  ${`${r.goal}${r.ok === null ? '' : r.ok ? ' ok' : ' MISSED'}`.padEnd(12)}  ${r.note}`),
    '',
    `machine: ${load.cores} cores, load average ${loadBefore.load1} at start, ${load.load1} (1 min) / ${load.load5} (5 min) at end; ` +
      `node ${process.version}; total ${Math.round((performance.now() - t0) / 1000)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const f of failures) process.stdout.write(`FAILED ${f}\n`);
  if (json) {
    const out: Record<string, number> = {};
    const digits = (k: Key) => (k.endsWith('_per_s') || k === 'concurrent_sessions' || k === 'rss_mb_at_max' ? 0 : k.endsWith('_ratio') ? 4 : 2);
    for (const k of KEYS) if (values[k] !== undefined) out[k] = round(values[k]!, digits(k));
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  return failures.length ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`); process.exitCode = 1; },
);
