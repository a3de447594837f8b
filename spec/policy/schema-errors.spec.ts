import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { expect } from 'chai';
import { schemaErrors } from '../../policy/schema-errors.js';

const errorsOf = (schema: TSchema, value: unknown) =>
  schemaErrors(schema, TypeCompiler.Compile(schema).Errors(value)).map((e) => `${e.keyword} ${e.instancePath || '-'} ${e.schemaPath} ${e.message}`);

describe('schemaErrors (TypeBox errors in JSON Schema keyword form)', () => {
  const Rule = Type.Object(
    {
      pattern: Type.String({ minLength: 1 }),
      reason: Type.String(),
      depth: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    },
    { additionalProperties: false },
  );

  it('reports missing keys as one required error on the object, without checking them as undefined', () => {
    expect(errorsOf(Type.Object({ rules: Type.Array(Rule) }), { rules: [{}] })).to.deep.equal([
      'required /rules/0 #/properties/rules/items must have required properties pattern, reason',
    ]);
  });

  it('reports unknown keys as a false schema each, then one additionalProperties error naming them all', () => {
    const errors = schemaErrors(Rule, TypeCompiler.Compile(Rule).Errors({ pattern: 'x', reason: 'r', a: 1, 'b/c': 2 }));
    expect(errors.map((e) => `${e.keyword} ${e.instancePath} ${e.schemaPath}`)).to.deep.equal([
      'boolean /a #/additionalProperties',
      'boolean /b~1c #/additionalProperties',
      'additionalProperties  #',
    ]);
    expect(errors[2].params).to.deep.equal({ additionalProperties: ['a', 'b/c'] });
  });

  it('names limits and holds a number that is not an integer to the bounds as well', () => {
    expect(errorsOf(Rule, { pattern: '', reason: 'r', depth: -1.5 })).to.deep.equal([
      'minLength /pattern #/properties/pattern must not have fewer than 1 characters',
      'type /depth #/properties/depth must be integer',
      'minimum /depth #/properties/depth must be >= 0',
    ]);
    expect(errorsOf(Rule, { pattern: 'x', reason: 'r', depth: 17 })).to.deep.equal(['maximum /depth #/properties/depth must be <= 16']);
  });

  it('lists the errors of each union branch (schema path .../anyOf/<n>) before the anyOf error', () => {
    const Stop = Type.Object({ stop: Type.Union([Type.Literal('end'), Type.Integer({ minimum: 400 })]) });
    expect(errorsOf(Stop, { stop: 300 })).to.deep.equal([
      'type /stop #/properties/stop/anyOf/0 must be string',
      'const /stop #/properties/stop/anyOf/0 must be equal to constant',
      'minimum /stop #/properties/stop/anyOf/1 must be >= 400',
      'anyOf /stop #/properties/stop must match a schema in anyOf',
    ]);
  });

  it('keeps at most 8 errors, as the explainers expect', () => {
    const value = { rules: Array.from({ length: 12 }, () => ({ pattern: 1, reason: 'r' })) };
    const errors = errorsOf(Type.Object({ rules: Type.Array(Rule) }), value);
    expect(errors).to.have.length(8);
    expect(errors[7]).to.equal('type /rules/7/pattern #/properties/rules/items/properties/pattern must be string');
  });

  it('gives a non-object its type error only', () => {
    expect(errorsOf(Rule, [])).to.deep.equal(['type - # must be object']);
  });
});
