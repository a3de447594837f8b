// spawn_impl_session: start a child impl session. The broker starts it in a
// new worker with grants no larger than this session's, enforces depth and
// parallel limits, and returns the child's report when it ends.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { ChildFields, delegate } from './child-session.js';

export const spawnImplSession = defineCapability({
  name: 'spawn_impl_session',
  description:
    'Start an impl session (a separate agent) that carries out `instructions` and reports back. It sees only the instructions ' +
    '(plus the task file when task_id is given), not this conversation, so make them complete. Several calls in one message ' +
    'run in parallel. Returns the child\'s status, files changed, token use and final report.',
  input: Type.Object(
    { ...ChildFields, instructions: Type.String({ ...ChildFields.instructions, description: 'Complete, self-contained instructions for the impl session' }) },
    { additionalProperties: false },
  ),
  defaultRoles: ['control'],
  actions: ['read'], // the spawn itself is governed by the policy's limits, not by path rules
  run: (ctx, input) => delegate(ctx, 'impl', input),
});
