// Which model and provider each role's sessions run on, which roles a run
// can reach, and whether a name is a role at all. Pure: the run setup creates a provider for every endpoint
// a run can reach before anything starts, the broker picks per session, and
// the manifest prints the same answer.
//
// `--provider`/`--model` (or CHORAGEN_MODEL) are the run's defaults; a role's
// own `provider`/`model` win for its sessions. A role that names another
// provider than the run's, without a model, gets that provider's default
// model (never the run's model, which belongs to another vendor). An offline
// run (`--provider script`) answers every role from the script.
import { UsageError } from '../../policy/errors.js';
import type { CompiledPolicy, Role, RoleProvider } from '../../policy/types.js';
import type { ProviderName } from '../providers/provider.js';

/** The model a provider's sessions use when neither the role nor the run names one. */
export const DEFAULT_MODELS: Readonly<Record<RoleProvider, string>> = {
  anthropic: 'claude-sonnet-5',
  openai: 'gpt-5-mini',
};

export interface RunDefaults {
  provider: ProviderName;
  model: string;
}

export interface RoleEndpoint {
  provider: ProviderName;
  model: string;
  /** Where the model is chosen, for an endpoint that does not know it: `--model` or the role's `model` in the policy. */
  modelSetting: string;
}

/** `role` when the policy defines it, else the usage error listing the roles it does define. */
export function definedRole(policy: CompiledPolicy, role: string): Role {
  if (!policy.hasRole(role)) throw new UsageError(`unknown role "${role}" (defined: ${policy.roles.join(', ')})`);
  return role;
}

export function roleEndpoint(policy: CompiledPolicy, role: Role, run: RunDefaults): RoleEndpoint {
  const section = policy.section(role);
  const roleSetting = `roles.${role}.model in the policy`;
  if (run.provider === 'script') return { provider: 'script', model: section?.model ?? run.model, modelSetting: section?.model ? roleSetting : '--model' };
  const provider = section?.provider ?? run.provider;
  // A role on another provider than the run's, without a model of its own, gets that provider's default: its own setting changes it.
  const fromRun = section?.model === undefined && provider === run.provider;
  const model = section?.model ?? (fromRun ? run.model : DEFAULT_MODELS[provider as RoleProvider]);
  return { provider, model, modelSetting: fromRun ? '--model' : roleSetting };
}

/** `root` and every role its sessions may start, transitively, within `maxDepth` levels. */
export function reachableRoles(policy: CompiledPolicy, root: Role, maxDepth: number): Role[] {
  const depthOf = new Map<Role, number>([[root, 0]]);
  const queue: Role[] = [root];
  while (queue.length) {
    const role = queue.shift()!;
    const depth = depthOf.get(role)!;
    if (depth >= maxDepth) continue;
    for (const child of policy.spawnsFor(role)) {
      if (!depthOf.has(child)) {
        depthOf.set(child, depth + 1);
        queue.push(child);
      }
    }
  }
  return [...depthOf.keys()];
}
