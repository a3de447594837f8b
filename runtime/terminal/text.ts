// The one terminal sanitizer (DESIGN.md §1): everything printed that came
// from a model, a file's content or a file name passes through here first.
// Control characters, escape sequences and the characters that reorder or
// hide text become visible escapes (`\x1b`, `\r`, `\u202e`), so such text
// cannot move the cursor, erase a line, retitle the window, or make a person
// see something other than what is there. A backslash is left as it is: a
// literal "\x1b" in a file and a real ESC both show as "\x1b", and either way
// nothing is hidden.

// C0/C1 controls, format characters (bidi overrides, zero-width characters,
// BOM, tag characters), line and paragraph separators, lone surrogates, the
// invisible variation selectors beyond emoji's, and the Hangul fillers that
// render as nothing.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u{e0100}-\u{e01ef}\u115f\u1160\u3164\uffa0]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.codePointAt(0)!;
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

function asText(value: unknown): string {
  return value === null || value === undefined ? '' : typeof value === 'string' ? value : String(value);
}

/** One line of text (a path, a file name, a tool name, an error): newlines and tabs are escaped too. */
export function termLine(value: unknown): string {
  const text = asText(value);
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escape) : text;
}

/** Text of several lines (a model's answer, a diff): newlines and tabs stay, everything else is escaped. */
export function termText(value: unknown): string {
  const text = asText(value);
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, (ch) => (ch === '\n' || ch === '\t' ? ch : escape(ch))) : text;
}
