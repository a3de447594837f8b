// run_command's result as the model reads it: the command, how it ended,
// the tail of each stream with a note of what was cut, and what happened to
// the files it changed. Paths in the workspace are shown relative to it, as
// every other tool shows them. Pure.

import { quoteCommand } from '../../policy/command-line.js';
import { cutNotes, type CapturedOutput } from '../sandbox/output-tail.js';
import type { SandboxRun } from '../sandbox/run.js';
import type { ChangeReport } from './changes.js';

export interface ResultFacts {
  argv: readonly string[];
  cwdRel: string;
  workspace: string;
  run: SandboxRun;
  report: ChangeReport;
  timeoutS: number;
  /** Bytes read from the command's output before it was stopped as a flood. */
  outputLimitBytes: number;
  notes: readonly string[];
}

/** Host paths of the workspace written as the model knows them: relative to its root. */
export function relativeToWorkspace(text: string, workspace: string): string {
  return text.split(`${workspace}/`).join('').split(workspace).join('.');
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function ending(facts: ResultFacts): string {
  const { run } = facts;
  const killed = 'the command and every process it started were killed';
  switch (run.stoppedBy) {
    case 'timeout':
      return `stopped after ${facts.timeoutS} s (its timeout): ${killed}`;
    case 'abort':
      return `stopped: the session was interrupted, and ${killed}`;
    case 'output-limit':
      return `stopped: it wrote more than ${Math.round(facts.outputLimitBytes / (1024 * 1024))} MiB of output, and ${killed}`;
    default:
      return run.exitCode === null ? 'it ended without an exit code' : `exit code ${run.exitCode} after ${seconds(run.durationMs)}`;
  }
}

function stream(name: string, out: CapturedOutput, workspace: string): string[] {
  if (out.totalBytes === 0) return [];
  const shown = out.cutBytes > 0 ? ` (the last ${out.totalBytes - out.cutBytes} of ${out.totalBytes} bytes)` : '';
  return [`--- ${name}${shown} ---`, relativeToWorkspace(out.text, workspace).replace(/\n$/, '')];
}

export function formatResult(facts: ResultFacts): string {
  const { run, report, workspace } = facts;
  const lines = [`$ ${quoteCommand(facts.argv)}${facts.cwdRel === '.' ? '' : `   (in ${facts.cwdRel})`}`, ending(facts)];
  const output = [...stream('stdout', run.stdout, workspace), ...stream('stderr', run.stderr, workspace)];
  lines.push(...(output.length > 0 ? output : ['(no output)']));
  const notes: string[] = [...facts.notes, ...cutNotes({ stdout: run.stdout, stderr: run.stderr })];
  if (report.stood.length > 0) notes.push(`files changed: ${report.stood.map((c) => `${c.rel} (${c.kind})`).join(', ')}`);
  for (const r of report.refused) {
    const what = `${r.rel} (${r.kind}) is against the policy (rule ${r.decision.rule}: ${r.decision.reason})`;
    notes.push(r.undone ? `not kept: ${what}; ${r.how}` : `NOT UNDONE: ${what}, but ${r.why}`);
  }
  notes.push(...report.unchecked, ...run.warnings.map((w) => relativeToWorkspace(w, workspace)));
  if (notes.length > 0) lines.push('---', ...notes);
  return lines.join('\n');
}
