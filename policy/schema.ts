// TypeBox schema of `choragen.governance.yaml` (DESIGN.md §4).
//
// Strict where it decides something (unknown keys and actions are errors, so a
// typo never silently widens what a session may do); loose only for the keys
// the original choragen format uses but this runtime does not act on
// (`collision_detection`, `validation`). `x-noun` names what an enum lists, so
// the loader can say `unknown action "rename"` instead of a schema message.

import { Kind, Type, TypeRegistry, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { MUTATION_ACTIONS, ROLE_NAME_PATTERN, ROLE_PROVIDERS } from './types.js';

/** The longest run_command timeout a policy may set. */

/** The most child sessions a policy may let run at once (limits.max_parallel). */
export const MAX_PARALLEL_LIMIT = 256;
export const MAX_COMMAND_TIMEOUT_S = 3600;

// A JSON Schema `enum`. TypeBox's own Type.Enum is a union of literals, which
// fails as one error per literal; an `enum` fails as one error the loader names.
const ENUM_KIND = 'choragen:Enum';
if (!TypeRegistry.Has(ENUM_KIND)) {
  TypeRegistry.Set<{ enum: readonly unknown[] }>(ENUM_KIND, (schema, value) => schema.enum.includes(value));
}

/**
 * One of `values`, named `noun` in messages (`unknown action "rename"`).
 * Without a noun it is plain JSON Schema (`{type: "string", enum}`), fit to
 * offer a model as part of a tool's input schema.
 */
export function Enum<const V extends string>(values: readonly V[], noun?: string, options: { description?: string } = {}): TUnsafe<V> {
  return Type.Unsafe<V>({ [Kind]: ENUM_KIND, ...(noun ? { 'x-noun': noun } : { type: 'string' }), enum: [...values], ...options });
}

export const ActionSchema = Enum(MUTATION_ACTIONS, 'action');

const Pattern = Type.String({ minLength: 1, description: 'picomatch glob on the canonical workspace-relative path' });
const Reason = Type.String({ description: 'Shown to the model and the user when the rule decides' });

export const MutationRuleSchema = Type.Object(
  {
    pattern: Pattern,
    actions: Type.Optional(Type.Array(ActionSchema, { minItems: 1 })),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

/** Read rules have no `actions`: reading is one action. */
export const ReadRuleSchema = Type.Object({ pattern: Pattern, reason: Type.Optional(Reason) }, { additionalProperties: false });

const MutationRules = Type.Array(MutationRuleSchema);

/** A command rule: an argv prefix (literals or globs), run directly by run_command. */
export const CommandRuleSchema = Type.Object(
  {
    argv: Type.Array(Type.String({ maxLength: 4096, description: 'a literal argument or a picomatch glob' }), { minItems: 1, maxItems: 64 }),
    exact: Type.Optional(Type.Boolean({ description: 'the command must have exactly these arguments, no more' })),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

const CommandRules = Type.Array(CommandRuleSchema);

export const CommandsSchema = Type.Object(
  { allow: Type.Optional(CommandRules), approve: Type.Optional(CommandRules), deny: Type.Optional(CommandRules) },
  { additionalProperties: false },
);

export const MutationsSchema = Type.Object(
  { allow: Type.Optional(MutationRules), approve: Type.Optional(MutationRules), deny: Type.Optional(MutationRules) },
  { additionalProperties: false },
);

export const ReadsSchema = Type.Object({ deny: Type.Optional(Type.Array(ReadRuleSchema)) }, { additionalProperties: false });

const RoleName = Type.String({ pattern: ROLE_NAME_PATTERN, description: 'a role name' });

/**
 * A role's section. `tools` is an enum of the known tool names when the
 * loader is given them (the policy layer does not import the capabilities);
 * `spawns` is checked against the file's roles after validation.
 */
function roleSectionSchema(tools: TSchema = Type.String({ minLength: 1 })) {
  return Type.Object(
    {
      description: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
      prompt: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'a workspace file holding the role\'s system prompt' })),
      tools: Type.Optional(Type.Array(tools)),
      model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      provider: Type.Optional(Enum(ROLE_PROVIDERS, 'provider')),
      spawns: Type.Optional(Type.Array(RoleName)),
      allow: Type.Optional(MutationRules),
      approve: Type.Optional(MutationRules),
      deny: Type.Optional(MutationRules),
      commands: Type.Optional(CommandsSchema),
    },
    { additionalProperties: false },
  );
}

const RoleSectionSchema = roleSectionSchema();

/** Any role name under `roles:`; `x-key` explains a bad one (load.ts). */
function rolesSchema(section: TSchema = RoleSectionSchema) {
  return Type.Record(RoleName, section, {
    additionalProperties: false,
    'x-key': 'role name must start with a lowercase letter and hold only lowercase letters, digits and "-"',
  });
}

export const LimitsSchema = Type.Object(
  {
    max_depth: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    max_parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PARALLEL_LIMIT })),
    // An hour at most: a command that needs longer is not one a session should wait on.
    command_timeout_s: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_COMMAND_TIMEOUT_S })),
  },
  { additionalProperties: false },
);

/** choragen's own collision settings: accepted for compatibility, not acted on. */
export const CollisionDetectionSchema = Type.Object(
  {
    strategy: Type.Optional(Enum(['file-lock', 'directory-lock'], 'strategy')),
    on_collision: Type.Optional(Enum(['block', 'warn'], 'collision mode')),
  },
  { additionalProperties: true },
);

/** choragen's validation settings: any mapping, accepted for compatibility, not acted on. */
export const ValidationSchema = Type.Record(Type.String(), Type.Unknown());

/** The whole file; with `knownTools`, a tool name outside them is an error naming the line. */
export function governanceSchema(knownTools?: readonly string[]) {
  const tools = knownTools ? Enum(knownTools, 'tool') : undefined;
  return Type.Object(
    {
      mutations: Type.Optional(MutationsSchema),
      reads: Type.Optional(ReadsSchema),
      commands: Type.Optional(CommandsSchema),
      roles: Type.Optional(rolesSchema(tools ? roleSectionSchema(tools) : RoleSectionSchema)),
      limits: Type.Optional(LimitsSchema),
      collision_detection: Type.Optional(CollisionDetectionSchema),
      validation: Type.Optional(ValidationSchema),
    },
    { additionalProperties: false },
  );
}

export const GovernanceSchema = governanceSchema();
