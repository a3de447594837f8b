// spawn_session: start a child session in one of the roles this session's
// role may start (its `spawns`). The offered schema is per session: `role`
// is the enum of those roles, each described, so a model is never shown a
// role it may not start. The broker re-checks the role against the policy
// (a call naming another is a denial by roles.<role>.spawns), then starts
// the child exactly as spawn_impl_session does: same limits, same
// intersection of grants.
import { Type, type TSchema } from '@sinclair/typebox';
import { Enum } from '../policy/schema.js';
import { ROLE_NAME_PATTERN } from '../policy/types.js';
import { defineCapability, type ToolOffer } from './capability.js';
import { ChildFields, delegate } from './child-session.js';

const ROLE_DESCRIPTION = 'The role of the child session';

function inputWith<R extends TSchema>(role: R) {
  return Type.Object({ role, ...ChildFields }, { additionalProperties: false });
}

const offered = new Map<string, TSchema>();

export const spawnSession = defineCapability({
  name: 'spawn_session',
  description:
    'Start a child session (a separate agent) in one of the roles you may start; it carries out `instructions` and reports back. ' +
    'It sees only the instructions (plus the task file when task_id is given), not this conversation, so make them complete. ' +
    'Several calls in one message run in parallel. Returns the child\'s status, files changed, token use and final report.',
  input: inputWith(Type.String({ pattern: ROLE_NAME_PATTERN, maxLength: 64, description: ROLE_DESCRIPTION })),
  inputFor(offer: ToolOffer): TSchema {
    // One schema object per distinct offer, so validators and specs built from it are shared.
    const key = JSON.stringify(offer.spawns);
    let schema = offered.get(key);
    if (!schema) {
      const names = offer.spawns.map((r) => r.name);
      const described = offer.spawns.map((r) => `${r.name} (${r.description})`).join('; ');
      offered.set(key, (schema = inputWith(Enum(names, undefined, { description: `${ROLE_DESCRIPTION}: ${described}` }))));
    }
    return schema;
  },
  defaultRoles: [],
  actions: ['read'], // the spawn itself is governed by `spawns` and the policy's limits, not by path rules
  run: (ctx, input) => delegate(ctx, input.role, input),
});
