// Substring occurrences in linear time, for edit_file's old_string: the
// model chooses both the file's content and the needle, and
// String.prototype.indexOf is quadratic on a needle shaped for it.

/**
 * Overlapping occurrences of `needle` and the first one's index, in time
 * linear in both lengths (Knuth-Morris-Pratt). String.prototype.indexOf is
 * not: an old_string such as a×50,000 b a×50,000 against a file of a's holds
 * the broker's thread for minutes.
 */
export function occurrences(text: string, needle: string): { count: number; first: number } {
  const m = needle.length;
  if (m === 0) return { count: text.length + 1, first: 0 };
  if (m > text.length) return { count: 0, first: -1 };
  const fail = new Int32Array(m);
  for (let i = 1, k = 0; i < m; i += 1) {
    while (k > 0 && needle.charCodeAt(i) !== needle.charCodeAt(k)) k = fail[k - 1]!;
    if (needle.charCodeAt(i) === needle.charCodeAt(k)) k += 1;
    fail[i] = k;
  }
  let count = 0;
  let first = -1;
  for (let i = 0, k = 0; i < text.length; i += 1) {
    while (k > 0 && text.charCodeAt(i) !== needle.charCodeAt(k)) k = fail[k - 1]!;
    if (text.charCodeAt(i) === needle.charCodeAt(k)) k += 1;
    if (k === m) {
      if (count++ === 0) first = i - m + 1;
      k = fail[k - 1]!;
    }
  }
  return { count, first };
}
