// Bounds on a tool input, checked before anything else looks at it (DESIGN.md
// §1: "every tool input is bounded before it is processed"). A model can send
// any JSON as a tool_use input; a few thousand nested arrays (7 KB) are enough
// to overflow the stack of every recursive consumer: schema validation,
// JSON.stringify of the transcript, and the structured clone that posts the
// model's reply to the session worker. The walk here is iterative and stops at
// the first bound crossed, so checking costs at most what the bounds allow.

/** Deeper than any tool's schema needs (the deepest is 3). */
export const MAX_INPUT_DEPTH = 32;
/** Bytes of an input, roughly as JSON: above write_file's 1 MiB content with room to spare. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;
/** Values (objects, arrays, strings, numbers...) in one input. */
export const MAX_INPUT_VALUES = 100_000;

/** Why `input` is out of bounds (one line for the model), or null when it is within them. */
export function inputProblem(input: unknown): string | null {
  const stack: Array<[unknown, number]> = [[input, 1]];
  let bytes = 0;
  let values = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++values > MAX_INPUT_VALUES) return `the input holds more than ${MAX_INPUT_VALUES} values`;
    if (typeof value === 'string') bytes += value.length > MAX_INPUT_BYTES ? value.length : Buffer.byteLength(value, 'utf8') + 2;
    else if (value === null || typeof value !== 'object') bytes += 8;
    else {
      if (depth > MAX_INPUT_DEPTH) return `the input is nested deeper than ${MAX_INPUT_DEPTH} levels`;
      const children: unknown[] = Array.isArray(value) ? value : Object.keys(value);
      if (stack.length + children.length > MAX_INPUT_VALUES) return `the input holds more than ${MAX_INPUT_VALUES} values`;
      bytes += 2 + children.length;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], depth + 1]);
      } else {
        for (const key of children as string[]) {
          bytes += Buffer.byteLength(key, 'utf8') + 3;
          stack.push([(value as Record<string, unknown>)[key], depth + 1]);
        }
      }
    }
    if (bytes > MAX_INPUT_BYTES) return `the input is larger than ${MAX_INPUT_BYTES} bytes`;
  }
  return null;
}
