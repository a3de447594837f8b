// An argv as one line a person can read and paste into a shell: what the
// audit log records (`tool_calls.command`), what an approval shows, what a
// refusal quotes. Control, format and bidirectional characters are written as
// escapes ($'…'), never as themselves, so a hostile argument cannot move the
// cursor, clear a line or reorder what a terminal shows. Pure.

/** Safe to write bare in a POSIX shell. */
const BARE = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** C0, DEL, C1, and the invisible or reordering Unicode characters a terminal would obey. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\x1b': '\\E', '\\': '\\\\', "'": "\\'" };

/** One argument, quoted for a POSIX shell (bash's $'…' when it holds a character that must not reach a terminal). */
export function quoteArg(arg: string): string {
  if (arg === '') return "''";
  if (BARE.test(arg)) return arg;
  if (!UNSAFE.test(arg)) return `'${arg.replace(/'/g, "'\\''")}'`;
  const escaped = arg.replace(/[\\']/g, (c) => NAMED[c]!).replace(UNSAFE_ALL, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return `$'${escaped}'`;
}

/** Past this many characters the line is cut, with a note of how much was left out. */
export const COMMAND_LINE_MAX_CHARS = 2000;

/** The argv as one shell-quoted line, at most `max` characters (then cut with `… (+N chars)`). */
export function quoteCommand(argv: readonly string[], max = COMMAND_LINE_MAX_CHARS): string {
  const line = argv.map(quoteArg).join(' ');
  if (line.length <= max) return line;
  // Cut on a code point boundary, so no half surrogate pair is left behind.
  const kept = Array.from(line.slice(0, max)).join('').replace(/[\ud800-\udbff]$/, '');
  return `${kept}… (+${line.length - kept.length} chars)`;
}

/**
 * Words of a command line typed by a person (`policy:check --command`): split
 * on blanks, with '…' and "…" quoting and backslash escapes as a POSIX shell
 * reads them, and nothing else (no variables, globs or operators). Returns
 * null for an unterminated quote.
 */
export function splitCommandLine(text: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return null;
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) j++;
        word += text[j];
      }
      if (j >= text.length) return null;
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
