// TypeBox schema of `choragen.governance.yaml` (DESIGN.md §4).
//
// Strict where it decides something (unknown keys and actions are errors, so a
// typo never silently widens what a session may do); loose only for the keys
// the original choragen format uses but this runtime does not act on
// (`collision_detection`, `validation`). `x-noun` names what an enum lists, so
// the loader can say `unknown action "rename"` instead of a schema message.

import { Kind, Type, TypeRegistry, type Static, type TOptional, type TUnsafe } from '@sinclair/typebox';
import { MUTATION_ACTIONS, ROLES } from './types.js';

/** The longest run_command timeout a policy may set. */
export const MAX_COMMAND_TIMEOUT_S = 3600;

// A JSON Schema `enum`. TypeBox's own Type.Enum is a union of literals, which
// fails as one error per literal; an `enum` fails as one error the loader names.
const ENUM_KIND = 'choragen:Enum';
if (!TypeRegistry.Has(ENUM_KIND)) {
  TypeRegistry.Set<{ enum: readonly unknown[] }>(ENUM_KIND, (schema, value) => schema.enum.includes(value));
}

/** One of `values`, named `noun` in messages (`unknown action "rename"`). */
function Enum<const V extends string>(values: readonly V[], noun: string): TUnsafe<V> {
  return Type.Unsafe<V>({ [Kind]: ENUM_KIND, enum: [...values], 'x-noun': noun });
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

export const RoleSectionSchema = Type.Object(
  {
    allow: Type.Optional(MutationRules),
    approve: Type.Optional(MutationRules),
    deny: Type.Optional(MutationRules),
    // Tool names are checked by the broker, which knows the capability list.
    tools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    commands: Type.Optional(CommandsSchema),
  },
  { additionalProperties: false },
);

export const RolesSchema = Type.Object(
  Object.fromEntries(ROLES.map((role) => [role, Type.Optional(RoleSectionSchema)])) as {
    control: TOptional<typeof RoleSectionSchema>;
    impl: TOptional<typeof RoleSectionSchema>;
  },
  { additionalProperties: false },
);

export const LimitsSchema = Type.Object(
  {
    max_depth: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    max_parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
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

export const GovernanceSchema = Type.Object(
  {
    mutations: Type.Optional(MutationsSchema),
    reads: Type.Optional(ReadsSchema),
    commands: Type.Optional(CommandsSchema),
    roles: Type.Optional(RolesSchema),
    limits: Type.Optional(LimitsSchema),
    collision_detection: Type.Optional(CollisionDetectionSchema),
    validation: Type.Optional(ValidationSchema),
  },
  { additionalProperties: false },
);

export type GovernanceSource = Static<typeof GovernanceSchema>;
