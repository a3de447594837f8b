// TypeBox 0.34 validation errors, restated as JSON Schema keyword errors
// (keyword, instancePath, schemaPath, params, message: the ajv vocabulary).
//
// The explainers (policy/load.ts, runtime/providers/script/format.ts, the tool
// dispatcher; policy/error-location.ts places an error in the user's file) turn
// these into one line for a user or a model. TypeBox reports one error per
// missing or unknown key, and keeps a union's branch errors inside the union
// error; JSON Schema reports one `required` / `additionalProperties` error per
// object and lists branch errors (schema path `.../anyOf/<n>/...`) before the
// `anyOf` error. Restating them here keeps the explainers about the schema
// rather than about a library's error stream.

import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

export interface SchemaError {
  keyword: string;
  /** JSON pointer into the checked value ('' = the value itself). */
  instancePath: string;
  /** JSON pointer of the failing schema node: `#`, `#/properties/roles/properties/impl`, `#/.../anyOf/1`. */
  schemaPath: string;
  params: Record<string, unknown>;
  message: string;
}

/** Where a batch of errors sits: the schema they were checked against, and its place in root schema and value. */
interface Base {
  schema: unknown;
  schemaPath: string;
  instancePath: string;
}

/**
 * At most this many errors per check, and per union branch: the explainers were
 * written (and their specs tuned) against TypeBox 1.x's error list, which
 * stops there; keeping the same list keeps the same message for a file with
 * many mistakes.
 */
const MAX_ERRORS = 8;

/** `errors` (from `TypeCheck.Errors`) of a value checked against `schema`, in keyword form. */
export function schemaErrors(schema: unknown, errors: Iterable<ValueError>): SchemaError[] {
  return collect(errors, { schema, schemaPath: '#', instancePath: '' });
}

function collect(errors: Iterable<ValueError>, base: Base): SchemaError[] {
  const out: SchemaError[] = [];
  const push = (error: SchemaError) => {
    if (out.length < MAX_ERRORS) out.push(error);
  };
  // A missing key is also checked as `undefined` against its schema; the `required` error says it all.
  const missing = new Set<string>();
  let required = null as SchemaError | null; // the required error of the object whose missing keys are being reported
  let extra = null as SchemaError | null; // the additionalProperties error waiting for the rest of its keys
  const flushExtra = () => {
    if (extra) push(extra);
    extra = null;
  };
  for (const error of errors) {
    if (missing.has(error.path) && error.type !== ValueErrorType.ObjectRequiredProperty) continue;
    const parent = parentPointer(error.path);
    const key = unescapePointer(error.path.slice(parent.length + 1));
    if (error.type === ValueErrorType.ObjectRequiredProperty) {
      flushExtra();
      missing.add(error.path);
      if (required?.instancePath === parent) {
        (required.params.requiredProperties as string[]).push(key);
        required.message = `must have required properties ${(required.params.requiredProperties as string[]).join(', ')}`;
      } else {
        required = { keyword: 'required', instancePath: parent, schemaPath: locate(base, parent), params: { requiredProperties: [key] }, message: `must have required properties ${key}` };
        push(required);
      }
      continue;
    }
    required = null;
    if (error.type === ValueErrorType.ObjectAdditionalProperties) {
      const objectPath = locate(base, parent);
      if (extra?.instancePath !== parent) {
        flushExtra();
        extra = { keyword: 'additionalProperties', instancePath: parent, schemaPath: objectPath, params: { additionalProperties: [] }, message: 'must not have additional properties' };
      }
      (extra!.params.additionalProperties as string[]).push(key);
      // JSON Schema reads `additionalProperties: false` as a `false` schema each unknown key fails.
      push({ keyword: 'boolean', instancePath: error.path, schemaPath: `${objectPath}/additionalProperties`, params: {}, message: 'schema is false' });
      continue;
    }
    flushExtra();
    const schemaPath = locate(base, error.path);
    const at = (keyword: string, params: Record<string, unknown>, message: string) =>
      push({ keyword, instancePath: error.path, schemaPath, params, message });
    const schema = error.schema as Record<string, unknown>;
    switch (error.type) {
      case ValueErrorType.Union: {
        const branches = (schema.anyOf as unknown[] | undefined) ?? [];
        error.errors.forEach((branch, i) => {
          for (const e of collect(branch, { schema: branches[i], schemaPath: `${schemaPath}/anyOf/${i}`, instancePath: error.path })) push(e);
        });
        at('anyOf', {}, 'must match a schema in anyOf');
        break;
      }
      case ValueErrorType.Literal: {
        // A literal is `{ type, const }`: a value of another type breaks both.
        const type = typeof schema.const;
        if (typeof error.value !== type) at('type', { type }, `must be ${type}`);
        at('const', { allowedValue: schema.const }, 'must be equal to constant');
        break;
      }
      case ValueErrorType.Integer:
      case ValueErrorType.Number:
        at(...keywordOf(error.type, schema));
        // A number that is not an integer is still held to the bounds.
        if (typeof error.value === 'number') for (const bound of boundErrors(schema, error.value)) at(...bound);
        break;
      default:
        at(...keywordOf(error.type, schema));
    }
  }
  flushExtra();
  return out;
}

type Keyword = [keyword: string, params: Record<string, unknown>, message: string];

function boundErrors(schema: Record<string, unknown>, value: number): Keyword[] {
  const out: Keyword[] = [];
  const bound = (name: string, type: ValueErrorType, holds: (limit: number) => boolean) => {
    if (typeof schema[name] === 'number' && !holds(schema[name] as number)) out.push(keywordOf(type, schema));
  };
  bound('exclusiveMinimum', ValueErrorType.NumberExclusiveMinimum, (limit) => value > limit);
  bound('exclusiveMaximum', ValueErrorType.NumberExclusiveMaximum, (limit) => value < limit);
  bound('minimum', ValueErrorType.NumberMinimum, (limit) => value >= limit);
  bound('maximum', ValueErrorType.NumberMaximum, (limit) => value <= limit);
  bound('multipleOf', ValueErrorType.NumberMultipleOf, (limit) => value % limit === 0);
  return out;
}

function keywordOf(type: ValueErrorType, schema: Record<string, unknown>): Keyword {
  const typeError = (name: string): Keyword => ['type', { type: name }, `must be ${name}`];
  const limit = (keyword: string, value: unknown, what: string): Keyword => [
    keyword,
    { limit: value },
    `must not have ${keyword.startsWith('min') ? 'fewer' : 'more'} than ${String(value)} ${what}`,
  ];
  const compare = (keyword: string, comparison: string, value: unknown): Keyword => [
    keyword,
    { comparison, limit: value },
    `must be ${comparison} ${String(value)}`,
  ];
  switch (type) {
    case ValueErrorType.Object: return typeError('object');
    case ValueErrorType.Array: return typeError('array');
    case ValueErrorType.String: return typeError('string');
    case ValueErrorType.Integer: return typeError('integer');
    case ValueErrorType.Number: return typeError('number');
    case ValueErrorType.Boolean: return typeError('boolean');
    case ValueErrorType.Null: return typeError('null');
    case ValueErrorType.StringMinLength: return limit('minLength', schema.minLength, 'characters');
    case ValueErrorType.StringMaxLength: return limit('maxLength', schema.maxLength, 'characters');
    case ValueErrorType.ArrayMinItems: return limit('minItems', schema.minItems, 'items');
    case ValueErrorType.ArrayMaxItems: return limit('maxItems', schema.maxItems, 'items');
    case ValueErrorType.ObjectMinProperties: return limit('minProperties', schema.minProperties, 'properties');
    case ValueErrorType.ObjectMaxProperties: return limit('maxProperties', schema.maxProperties, 'properties');
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum: return compare('minimum', '>=', schema.minimum);
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum: return compare('maximum', '<=', schema.maximum);
    case ValueErrorType.IntegerExclusiveMinimum:
    case ValueErrorType.NumberExclusiveMinimum: return compare('exclusiveMinimum', '>', schema.exclusiveMinimum);
    case ValueErrorType.IntegerExclusiveMaximum:
    case ValueErrorType.NumberExclusiveMaximum: return compare('exclusiveMaximum', '<', schema.exclusiveMaximum);
    case ValueErrorType.IntegerMultipleOf:
    case ValueErrorType.NumberMultipleOf: return ['multipleOf', { multipleOf: schema.multipleOf }, `must be multiple of ${String(schema.multipleOf)}`];
    case ValueErrorType.StringPattern: return ['pattern', { pattern: schema.pattern }, `must match pattern "${String(schema.pattern)}"`];
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringFormatUnknown: return ['format', { format: schema.format }, `must match format "${String(schema.format)}"`];
    case ValueErrorType.ArrayUniqueItems: return ['uniqueItems', {}, 'must not have duplicate items'];
    case ValueErrorType.Never: return ['boolean', {}, 'schema is false'];
    case ValueErrorType.Kind:
      // A kind of our own: `{ enum }` is the only one (policy/schema.ts).
      if (Array.isArray(schema.enum)) return ['enum', { allowedValues: schema.enum }, 'must be equal to one of the allowed values'];
      return ['kind', {}, 'is invalid'];
    default: return [ValueErrorType[type] ?? 'invalid', {}, 'is invalid'];
  }
}

/** The schema path of the node checking `instancePath`: object keys and list items from `base` down. */
function locate(base: Base, instancePath: string): string {
  let node = base.schema as Record<string, unknown> | undefined;
  let out = base.schemaPath;
  const rest = instancePath.slice(base.instancePath.length);
  for (const raw of rest.split('/').slice(1)) {
    const key = unescapePointer(raw);
    const properties = node?.properties as Record<string, unknown> | undefined;
    const patterns = node?.patternProperties as Record<string, unknown> | undefined;
    if (properties && Object.hasOwn(properties, key)) {
      out += `/properties/${escapePointer(key)}`;
      node = properties[key] as Record<string, unknown>;
    } else if (patterns) {
      const pattern = Object.keys(patterns)[0];
      out += `/patternProperties/${escapePointer(pattern)}`;
      node = patterns[pattern] as Record<string, unknown>;
    } else if (node?.items !== undefined) {
      out += '/items';
      node = node.items as Record<string, unknown>;
    } else {
      out += '/additionalProperties';
      node = node?.additionalProperties as Record<string, unknown> | undefined;
    }
  }
  return out;
}

function parentPointer(pointer: string): string {
  return pointer.slice(0, pointer.lastIndexOf('/'));
}

/** One JSON pointer segment as the key it names (`~1` is `/`, `~0` is `~`). */
export function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
