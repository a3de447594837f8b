// Where a schema error (policy/schema-errors.ts) points, in the words of the
// file a user wrote: the key path (`roles.impl.allow[0].actions[1]`), the
// value and the schema node there, and the line in the YAML (or JSON) source.
// The governance file loader and the script parser explain errors this way.
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import { unescapePointer } from './schema-errors.js';

export type Segment = string | number;

/** JSON pointer -> path segments, numbers where the data holds a list. */
export function pointerSegments(data: unknown, pointer: string): Segment[] {
  if (pointer === '') return [];
  const segments: Segment[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = unescapePointer(raw);
    const segment: Segment = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
    segments.push(segment);
    node = child(node, segment);
  }
  return segments;
}

/** The value at `segments` (undefined where the path leaves the data). */
export function valueAt(data: unknown, segments: Segment[]): unknown {
  let node = data;
  for (const s of segments) node = child(node, s);
  return node;
}

/** The schema node a schema path (`#/properties/roles/...`) points at. */
export function schemaAt(schema: unknown, schemaPath: string): Record<string, unknown> | undefined {
  let node = schema;
  for (const raw of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) node = child(node, unescapePointer(raw));
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

/** `roles.impl.allow[0].actions[1]` */
export function formatKey(segments: Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

/**
 * The 1-based line of the deepest node on `segments` that exists in the
 * document: the value's line, or with `atKey` the key's (an unknown key).
 */
export function lineOf(doc: Document, lines: LineCounter, segments: Segment[], atKey = false): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lines);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
      if (!pair) break;
      const last = i === segments.length - 1;
      line = rangeLine(last && atKey ? pair.key : (pair.value ?? pair.key), lines) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      line = rangeLine(node, lines) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function child(node: unknown, key: Segment): unknown {
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key as string] : undefined;
}

function rangeLine(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}
