// One provider per name for a run, created before any session starts, for
// every provider a role the run can reach runs on. Every key is checked
// before any provider is made, so a missing one fails the run at start
// (exit 2) with one line naming the variable and the roles that need it.
import { UsageError } from '../../policy/errors.js';
import type { Role } from '../../policy/types.js';
import type { ModelProvider, ProviderName } from './provider.js';

export const providerNames: readonly ProviderName[] = ['anthropic', 'openai', 'script'];

/** The environment a networked provider reads: its key and its endpoint. */
export const PROVIDER_ENV: Readonly<Record<Exclude<ProviderName, 'script'>, { key: string; baseURL: string }>> = {
  anthropic: { key: 'ANTHROPIC_API_KEY', baseURL: 'ANTHROPIC_BASE_URL' },
  openai: { key: 'OPENAI_API_KEY', baseURL: 'OPENAI_BASE_URL' },
};

export interface ProviderNeed {
  role: Role;
  provider: ProviderName;
}

export async function createProviders(needs: readonly ProviderNeed[], settings: { script?: string }): Promise<Map<ProviderName, ModelProvider>> {
  const roles = new Map<ProviderName, Role[]>();
  for (const { role, provider } of needs) roles.set(provider, [...(roles.get(provider) ?? []), role]);
  for (const [name, users] of roles) {
    if (name === 'script') {
      if (!settings.script) throw new UsageError('--provider script needs --script FILE (a scripted conversation; see examples/demo-script.json)');
      continue;
    }
    const { key } = PROVIDER_ENV[name];
    if (!process.env[key]) {
      const local = name === 'openai' ? ' (any value for a local endpoint such as Ollama)' : '';
      throw new UsageError(
        `${key} is not set (${users.length === 1 ? 'role' : 'roles'} ${users.join(', ')} ${users.length === 1 ? 'runs' : 'run'} on ${name}): ` +
          `export it${local}, or run offline with --provider script --script FILE`,
      );
    }
  }
  const out = new Map<ProviderName, ModelProvider>();
  for (const name of roles.keys()) out.set(name, await createProvider(name, settings));
  return out;
}

async function createProvider(name: ProviderName, settings: { script?: string }): Promise<ModelProvider> {
  switch (name) {
    case 'script': {
      const { ScriptProvider } = await import('./script/provider.js');
      return ScriptProvider.fromFile(settings.script!);
    }
    case 'anthropic': {
      const { AnthropicProvider } = await import('./anthropic.js');
      const env = PROVIDER_ENV.anthropic;
      return AnthropicProvider.create({ apiKey: process.env[env.key]!, baseURL: baseUrl(env.baseURL), keyVariable: env.key, urlVariable: env.baseURL });
    }
    case 'openai': {
      const { OpenAIProvider } = await import('./openai.js');
      const env = PROVIDER_ENV.openai;
      return OpenAIProvider.create({ apiKey: process.env[env.key]!, baseURL: baseUrl(env.baseURL), keyVariable: env.key, urlVariable: env.baseURL });
    }
  }
}

/** An endpoint from the environment, checked: an http(s) URL, or unset. */
function baseUrl(variable: string): string | undefined {
  const value = process.env[variable];
  if (!value) return undefined;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // said below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`${variable} must be an http:// or https:// URL (got "${value}")`);
  }
  return value;
}
