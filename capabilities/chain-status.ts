// chain_status: the task chains under docs/tasks and where each task stands.
import { Type } from '@sinclair/typebox';
import { defineCapability } from './capability.js';
import { ChainIdField } from './tasks/fields.js';
import { taskStoreFor } from './tasks/store.js';
import { capToolText, formatChainStatus } from './tasks/views.js';

export const chainStatus = defineCapability({
  name: 'chain_status',
  description:
    'Show the task chains (docs/tasks/<status>/<CHAIN-ID>/<task>.md): per chain its title, task counts by status, ' +
    'and each task with its status, title and the last session that completed it. ' +
    'With chain_id, only that chain. Statuses: backlog, todo, in-progress, in-review, done.',
  input: Type.Object(
    {
      chain_id: ChainIdField(),
    },
    { additionalProperties: false },
  ),
  defaultRoles: ['control', 'impl'],
  actions: ['read'],
  async run(ctx, input) {
    const summaries = await taskStoreFor(ctx).chainStatus(input.chain_id);
    return capToolText(formatChainStatus(summaries), ctx.limits.outputBytes, 'give chain_id to see one chain');
  },
});
