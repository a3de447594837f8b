// Help and command-line errors, like a polished CLI: option values have
// names (`--max-cost <usd>`), usage lines show the required options, colour
// only on a terminal and never with NO_COLOR, a mistyped command gets the
// nearest real ones, and a command given the wrong arguments says which
// (a missing option, an unknown one, a missing argument) with its usage line.
// clipanion parses; this renders, from clipanion's own registrations.
import { Cli, type CommandClass } from 'clipanion';
import { termLine } from '../terminal/text.js';

/** The name of each option's value, as help shows it. An option not listed gets one from its own name. */
const VALUE_NAMES: Record<string, string> = {
  '--role': 'role', '--action': 'action', '--message': 'text', '--task': 'task-id', '--chain': 'chain-id',
  '--provider': 'name', '--script': 'file', '--model': 'model', '--max-tokens': 'tokens', '--max-cost': 'usd',
  '--max-depth': 'n', '--max-parallel': 'n', '--max-turns': 'n', '--max-retries': 'n', '--session-timeout': 'duration',
  '--worker-memory-mb': 'mb', '--policy': 'file', '--workspace': 'dir', '--limit': 'n', '--format': 'format',
  '--since': 'when', '--older-than': 'age', '--parquet': 'dir', '--body': 'file', '--status': 'status', '--type': 'type',
  '--description': 'text', '--context-window': 'tokens', '--request-timeout': 'seconds',
};

export interface OptionInfo { names: string[]; value: string | null; required: boolean; description: string }
export interface CommandInfo {
  path: string;
  klass: CommandClass<any>;
  category: string;
  description: string;
  details: string;
  examples: Array<[string, string]>;
  options: OptionInfo[];
  /** As usage shows them: `<ID>`, `[FILE]`, `<TITLE>...`, `[PATH | -- ARGV...]`. */
  positionals: string[];
}

/** Colour only for a terminal that has it, and never when NO_COLOR is set (https://no-color.org). */
export function colorFor(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const tty = stream as NodeJS.WriteStream;
  if (!tty.isTTY || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return false;
  return (tty.getColorDepth?.(env) ?? 1) > 1;
}

const longName = (names: string[]) => names.find((n) => n.startsWith('--')) ?? names[0]!;

function valueName(names: string[]): string {
  const long = longName(names);
  return VALUE_NAMES[long] ?? long.replace(/^-+/, '').split('-').pop()!;
}

/** `-m, --message <text>`. */
function optionLabel(o: OptionInfo): string {
  const names = [...o.names].sort((a, b) => Number(b.startsWith('-') && !b.startsWith('--')) - Number(a.startsWith('-') && !a.startsWith('--')));
  return `${names.join(', ')}${o.value ? ` <${o.value}>` : ''}`;
}

/** Optimal string alignment distance: a swapped pair of letters counts as one edit (`strat` -> `start`). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The names nearest to `typed`: close in spelling, or starting with it, or matching after the `area:` prefix. */
export function nearest(typed: string, names: string[], max = 3): string[] {
  const t = typed.toLowerCase();
  const scored = names.map((name) => {
    const n = name.toLowerCase();
    const tail = n.slice(n.indexOf(':') + 1);
    const distance = Math.min(editDistance(t, n), editDistance(t, tail) + 1);
    const prefix = t.length >= 3 && (n.startsWith(t) || tail.startsWith(t));
    return { name, score: prefix ? Math.min(distance, 1) : distance };
  });
  const limit = Math.max(2, Math.floor(t.length / 3));
  const ranked = scored.filter((s) => s.score <= limit).sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  // A word that starts several names (`agent`) gets all of them.
  const prefixed = names.filter((n) => t.length >= 3 && n.toLowerCase().startsWith(t));
  return prefixed.length > max ? prefixed : ranked.slice(0, max).map((s) => s.name);
}

/** `<TITLE> ...` -> `<TITLE>...`; an optional rest `...` -> `[NAME...]`. */
function namedRest(positionals: string[], rest: string | undefined): string[] {
  const at = positionals.indexOf('...');
  if (at < 0 || rest === undefined) return positionals;
  const before = positionals[at - 1];
  if (before === `<${rest}>`) return [...positionals.slice(0, at - 1), `<${rest}>...`, ...positionals.slice(at + 1)];
  return [...positionals.slice(0, at), `[${rest}...]`, ...positionals.slice(at + 1)];
}

/** How many arguments after the command are not options or their values. */
function positionalCount(command: CommandInfo, argv: string[]): number {
  let count = 0;
  for (let i = argv.indexOf(command.path) + 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return count + argv.length - i - 1;
    if (!a.startsWith('-')) count++;
    else if (!a.includes('=') && command.options.some((o) => o.value && o.names.includes(a))) i++;
  }
  return count;
}

function dedent(text: string): string[] {
  const lines = text.replace(/^\n+|\s+$/g, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  // Paragraphs: lines joined, blank lines kept as breaks.
  const paragraphs: string[] = [];
  let current: string[] = [];
  for (const line of lines.map((l) => l.slice(indent))) {
    if (line.trim() === '') {
      if (current.length) paragraphs.push(current.join(' '));
      current = [];
    } else current.push(line.trim());
  }
  if (current.length) paragraphs.push(current.join(' '));
  return paragraphs;
}

function wrap(text: string, width: number, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - indent.length) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

interface Style { bold(s: string): string; dim(s: string): string }
const plain: Style = { bold: (s) => s, dim: (s) => s };
const ansi: Style = { bold: (s) => `\x1b[1m${s}\x1b[22m`, dim: (s) => `\x1b[2m${s}\x1b[22m` };

export class ChoragenCli extends Cli {
  private infos: CommandInfo[] | null = null;

  /** Every registered command with a path, as help and errors describe it. */
  commands(): CommandInfo[] {
    if (this.infos) return this.infos;
    const out: CommandInfo[] = [];
    for (const [klass] of this.registrations) {
      const path = klass.paths?.[0]?.join(' ');
      if (!path || path.startsWith('-') || !klass.usage) continue;
      const { options } = this.getUsageByRegistration(klass, { detailed: true, inlineOptions: false });
      const inline = this.getUsageByRegistration(klass, { detailed: true, inlineOptions: true }).usage;
      const positionals = namedRest((inline.match(/<[^>]*>|\[[^\]]*\]|\.\.\./g) ?? []).filter((t) => !/^[<[]-/.test(t)), this.restName(klass));
      out.push({
        path, klass,
        category: klass.usage.category ?? 'Other',
        description: klass.usage.description ?? '',
        details: klass.usage.details ?? '',
        examples: (klass.usage.examples ?? []) as Array<[string, string]>,
        positionals,
        options: options.map((o): OptionInfo => {
          const [names, ...values] = o.definition.split(' ');
          const list = names!.split(',');
          return { names: list, value: values.length ? valueName(list) : null, required: o.required, description: o.description };
        // Options every command has (--verbose) come after the command's own.
        }).sort((a, b) => Number(a.names.includes('--verbose')) - Number(b.names.includes('--verbose'))),
      });
    }
    return (this.infos = out);
  }

  /** The name given to a command's Option.Rest, which clipanion's usage drops (it prints `...`). */
  private restName(klass: CommandClass<any>): string | undefined {
    let name: string | undefined;
    const recorder = new Proxy({}, { get: (_t, method) => (method === 'addRest' ? (o: { name?: string }) => { name = o.name; } : () => undefined) });
    for (const [key, spec] of this.registrations.get(klass)?.specs ?? []) spec.definition(recorder as any, key);
    return name;
  }

  info(path: string): CommandInfo | undefined {
    return this.commands().find((c) => c.path === path);
  }

  /** `choragen agent:start --role <role> [options]`. */
  usageLine(c: CommandInfo): string {
    const required = c.options.filter((o) => o.required).map((o) => `${longName(o.names)} <${o.value}>`);
    const optional = c.options.some((o) => !o.required) ? ['[options]'] : [];
    return [this.binaryName, c.path, ...required, ...optional, ...c.positionals].join(' ');
  }

  /** clipanion calls this for `--help`, `-h` and `COMMAND --help`. */
  override usage(command: CommandClass<any> | { constructor: unknown } | null = null, opts: { detailed?: boolean } = {}): string {
    const style = colorFor(process.stdout) ? ansi : plain;
    const klass = command && typeof command === 'object' ? (command.constructor as CommandClass<any>) : command;
    const info = klass ? this.commands().find((c) => c.klass === klass) : undefined;
    if (!info) return this.overview(style);
    return opts.detailed === false ? `${style.bold('Usage:')} ${this.usageLine(info)}\n` : this.commandHelp(info, style);
  }

  private width(): number {
    const columns = (process.stdout as NodeJS.WriteStream).columns;
    return Math.min(100, columns && columns > 40 ? columns : 80);
  }

  private overview(style: Style): string {
    const out = [
      `${style.bold(`${this.binaryLabel ?? this.binaryName} ${this.binaryVersion ?? ''}`.trim())}: run LLM agent sessions in roles the runtime enforces`,
      '',
      `${style.bold('Usage:')} ${this.binaryName} <command> [options]`,
    ];
    const categories = [...new Set(this.commands().map((c) => c.category))];
    for (const category of categories) {
      out.push('', style.bold(category));
      for (const c of this.commands().filter((x) => x.category === category)) {
        out.push(`  ${style.bold(this.usageLine(c).slice(this.binaryName.length + 1))}`);
        out.push(...wrap(c.description, this.width(), '      '));
      }
    }
    out.push('', `Run \`${this.binaryName} <command> --help\` for a command's options and examples.`);
    return `${out.join('\n')}\n`;
  }

  private commandHelp(c: CommandInfo, style: Style): string {
    const width = this.width();
    const out = [...wrap(c.description, width, ''), '', `${style.bold('Usage:')} ${this.usageLine(c)}`];
    if (c.options.length) {
      out.push('', style.bold('Options:'));
      const labels = c.options.map(optionLabel);
      const column = Math.min(Math.max(...labels.map((l) => l.length)) + 4, 34);
      c.options.forEach((o, i) => {
        const text = `${o.required ? '(required) ' : ''}${o.description}`;
        const label = `  ${labels[i]}`;
        const body = wrap(text, width, ' '.repeat(column));
        if (label.length + 2 <= column) out.push(style.bold(label) + body[0]!.slice(label.length), ...body.slice(1));
        else out.push(style.bold(label), ...body);
      });
    }
    if (c.details) {
      out.push('', style.bold('Details:'));
      for (const [i, p] of dedent(c.details).entries()) out.push(...(i ? [''] : []), ...wrap(p, width, '  '));
    }
    if (c.examples.length) {
      out.push('', style.bold('Examples:'));
      for (const [label, example] of c.examples) {
        out.push(`  ${label}`);
        for (const line of example.split('\n')) out.push(`    ${style.dim('$')} ${line.replace(/\$0/g, this.binaryName)}`);
      }
    }
    return `${out.join('\n')}\n`;
  }

  /** One clear message for arguments clipanion could not place (exit 2 follows). */
  explainError(rawArgv: string[], err: unknown): string {
    const bin = this.binaryName;
    // What was typed is echoed back: through the terminal sanitizer.
    const argv = rawArgv.map(termLine);
    const reason = termLine((err instanceof Error ? err.message.split(/\n|\. \$ /)[0]! : String(err)).trim().replace(/\.$/, ''));
    const word = argv.find((a) => !a.startsWith('-'));
    const command = word === undefined ? undefined : this.info(word);
    if (!command) {
      const generalHint = `Run \`${bin} --help\` for the list of commands.`;
      if (word === undefined) {
        const flag = argv.find((a) => a.startsWith('-')) ?? '';
        return `${bin}: unknown option ${flag}\n${generalHint}\n`;
      }
      const near = nearest(word, this.commands().map((c) => c.path));
      const hint = near.length ? `\nDid you mean ${near.length === 1 ? near[0] : `one of: ${near.join(', ')}`}?` : '';
      return `${bin}: unknown command "${word}"${hint}\n${generalHint}\n`;
    }
    const given = new Set(argv.filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]!));
    const missing = command.options.filter((o) => o.required && !o.names.some((n) => given.has(n)));
    let problem: string;
    let m: RegExpExecArray | null;
    if ((m = /^Unsupported option name \("(.*)"\)$/.exec(reason))) {
      const names = command.options.flatMap((o) => o.names);
      const near = nearest(m[1]!.split('=')[0]!, names, 1);
      problem = `unknown option ${m[1]} for ${command.path}${near.length ? ` (did you mean ${near[0]}?)` : ''}`;
    } else if ((m = /^Not enough arguments to option (.*)$/.exec(reason))) {
      const o = command.options.find((x) => x.names.includes(m![1]!));
      problem = `${m[1]} needs a value: ${m[1]} <${o?.value ?? 'value'}>`;
      // `--max-cost -1`: the value was read as an option.
      const next = argv[argv.indexOf(m[1]!) + 1];
      if (next !== undefined && /^-\d/.test(next)) problem += ` (a value starting with "-" is read as an option: write ${m[1]}=${next})`;
    } else if ((m = /^Invalid option name \("(.*)"\)$/.exec(reason))) {
      problem = `${m[1]!.split('=')[0]} takes no value (got ${m[1]})`;
    } else if ((m = /^Extraneous positional argument \("(.*)"\)$/.exec(reason))) {
      problem = `unexpected argument "${m[1]}" (quote a value that has spaces)`;
    } else if (missing.length) {
      problem = `${command.path} needs ${missing.map((o) => `${longName(o.names)} <${o.value}>`).join(' and ')}`;
    } else if (/^Not enough positional arguments/.test(reason)) {
      const required = command.positionals.filter((p) => p.startsWith('<')).map((p) => p.replace(/^<|>(\.\.\.)?$/g, ''));
      problem = `${command.path} needs ${required.slice(positionalCount(command, argv)).join(' and ') || 'more arguments'}`;
    } else {
      problem = reason.replace(/^Command not found.*/, `${command.path}: these arguments do not fit its usage`);
    }
    return `${bin}: ${problem}\nUsage: ${this.usageLine(command)}\nRun \`${bin} ${command.path} --help\` for its options and examples.\n`;
  }
}
