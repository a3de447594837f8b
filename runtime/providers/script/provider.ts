// `--provider script`: replays a scripted conversation in-process, through
// the same broker path as the real API (budgets, metering, audit, policy).
// Scripted failures and delays behave like the API's, so retries and
// interrupts can be exercised offline.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, ProviderError, UsageError } from '../../../policy/errors.js';
import { parseScript } from './format.js';
import { ScriptedModel } from './replay.js';
import { type ModelAnswer, type ModelCallSpec, type ModelProvider, RETRYABLE_STATUS, usageFromAnthropic } from '../provider.js';

export class ScriptProvider implements ModelProvider {
  readonly name = 'script' as const;
  private constructor(private readonly model: ScriptedModel) {}

  static async fromFile(file: string): Promise<ScriptProvider> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new UsageError(`cannot read script file ${file}`);
    }
    return new ScriptProvider(new ScriptedModel(parseScript(text, file)));
  }

  async call(spec: ModelCallSpec): Promise<ModelAnswer> {
    let reply;
    try {
      reply = this.model.reply({ system: spec.system, messages: spec.messages, model: spec.model });
    } catch (err) {
      throw new ProviderError((err as Error).message, false);
    }
    if (reply.delay_ms > 0) {
      try {
        await sleep(reply.delay_ms, undefined, { signal: spec.signal });
      } catch {
        throw new InterruptedError('model call aborted');
      }
    }
    if (spec.signal.aborted) throw new InterruptedError('model call aborted');
    if (reply.failure) {
      if (reply.failure.kind === 'reset') throw new ProviderError('connection error: socket hang up (scripted)', true);
      const { status, retry_after_ms } = reply.failure;
      throw new ProviderError(`${status} scripted failure`, RETRYABLE_STATUS.has(status), status, retry_after_ms || undefined);
    }
    return { content: reply.content, stop_reason: reply.stop_reason, usage: usageFromAnthropic(reply.usage), model: reply.model };
  }
}
