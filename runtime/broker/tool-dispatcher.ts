// Decides and performs one tool call arriving on a session's tool port:
// input bounds -> schema check -> capability (which authorizes each path) ->
// journal line -> audit line -> reply. A refusal or failure becomes is_error
// with one line; the result is journaled (agent:resume never runs the call
// again) and the audit line written before the reply leaves the broker.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Capability } from '../../capabilities/capability.js';
import type { ToolReply, ToolRequest, ToolResultBlock, ToolUseBlock } from '../../capabilities/protocol.js';
import type { ToolCallEvent, ToolDecision } from '../audit/events.js';
import { ChoragenError, ToolFailure, ToolRefusal } from '../../policy/errors.js';
import type { LiveSession } from './live-session.js';
import { schemaErrors } from '../../policy/schema-errors.js';
import { type ContextDeps, DecisionTrail, createToolContext } from './tool-context.js';
import { inputProblem } from './input-bounds.js';

/** A call that arrived after its session was told to stop: never started. */
class NotRun extends Error {}

export class ToolDispatcher {
  private readonly validators = new Map<string, TypeCheck<TSchema>>();

  constructor(
    private readonly registry: ReadonlyMap<string, Capability>,
    private readonly deps: ContextDeps,
    private readonly record: (event: ToolCallEvent) => void,
    /** The session's journal gets each result as soon as it exists. */
    private readonly journal: (session: LiveSession, result: ToolResultBlock) => void = () => {},
  ) {}

  async handle(session: LiveSession, tool: string, req: ToolRequest, signal: AbortSignal): Promise<ToolReply> {
    const started = new Date();
    const t0 = performance.now();
    const trail = new DecisionTrail();
    let content: string;
    let isError = false;
    let error: string | null = null;
    let endsSession = false;
    let finalText: string | undefined;
    try {
      // A session told to stop (Ctrl-C, a budget, a timeout, a record that could not be written) starts no new effect.
      if (signal.aborted) throw new NotRun();
      const capability = this.registry.get(tool);
      if (!capability) throw new ToolRefusal(unknownToolMessage(tool, session.tools), 'deny', 'grants');
      // Before anything recursive looks at it (the schema check included).
      const problem = inputProblem(req.input);
      if (problem) throw new ToolRefusal(boundsMessage(tool, problem), 'invalid', INPUT_BOUNDS_RULE);
      const input = this.validate(capability, req.input);
      const ctx = createToolContext(this.deps, session, tool, trail, signal);
      const result = await capability.run(ctx, input);
      if (typeof result === 'string') content = result;
      else {
        content = result.content;
        endsSession = !!result.endsSession;
        finalText = result.finalText;
      }
    } catch (err) {
      isError = true;
      // Stopped mid-call (budget, Ctrl-C, timeout, parent ended): say so, whatever the capability threw.
      const why = String(signal.reason ?? 'the session stopped');
      content = err instanceof NotRun ? `${tool} was not run: ${why}`
        : signal.aborted && !(err instanceof ToolRefusal) ? `${tool} was stopped: ${why}` : toolErrorLine(tool, err);
      error = content;
      if (err instanceof ToolRefusal && trail.decision === 'allow') {
        trail.decision = err.decision;
        trail.rule = err.rule;
        if (err.path) trail.paths.push(err.path);
      }
    }
    session.toolCalls++;
    this.journal(session, { type: 'tool_result', tool_use_id: req.tool_use_id, content, ...(isError ? { is_error: true } : {}) });
    this.record({
      type: 'tool_call',
      session_id: session.id,
      seq: session.nextToolSeq(),
      tool,
      tool_use_id: req.tool_use_id,
      started_at: started.toISOString(),
      duration_ms: performance.now() - t0,
      decision: trail.decision,
      rule: trail.rule,
      path: trail.paths.length ? trail.paths.join(trail.pathSeparator) : null,
      is_error: isError,
      error,
      ...(trail.command !== null ? { command: trail.command, exit_code: trail.exitCode } : {}),
    });
    const reply: ToolReply = { type: 'tool_reply', id: req.id, content, is_error: isError };
    if (endsSession) {
      reply.ends_session = true;
      reply.final_text = finalText;
    }
    return reply;
  }

  /**
   * A tool_use refused when the model's reply arrives, before any port sees
   * it: a tool the session holds no port for (a denial), or an input out of
   * bounds (invalid). Audited; returns the refusal the model reads.
   */
  refuseAtArrival(session: LiveSession, use: ToolUseBlock): string | null {
    // The model's JSON may put anything where a string belongs; String() of a deep array recurses.
    if (typeof use.id !== 'string') use.id = `toolu_invalid_${session.toolCalls + 1}`;
    if (typeof use.name !== 'string') {
      use.name = '(not a string)';
      use.input = {};
      return this.recordRefused(session, use, 'invalid', INPUT_BOUNDS_RULE, 'invalid tool call: the tool name must be a string');
    }
    const problem = inputProblem(use.input);
    if (problem !== null) {
      use.input = {}; // the refused input is neither posted to the worker nor kept in the transcript
      return this.recordRefused(session, use, 'invalid', INPUT_BOUNDS_RULE, boundsMessage(use.name, problem));
    }
    if (!session.tools.includes(use.name)) return this.recordRefused(session, use, 'deny', 'grants', unknownToolMessage(use.name, session.tools));
    return null;
  }

  private recordRefused(session: LiveSession, use: ToolUseBlock, decision: ToolDecision, rule: string, error: string): string {
    session.toolCalls++;
    this.record({
      type: 'tool_call',
      session_id: session.id,
      seq: session.nextToolSeq(),
      tool: use.name.slice(0, 200),
      tool_use_id: use.id.slice(0, 200),
      started_at: new Date().toISOString(),
      duration_ms: 0,
      decision,
      rule,
      path: null,
      is_error: true,
      error,
    });
    return error;
  }

  /** The input, checked against the capability's schema (what its run() is typed for), or a ToolRefusal. */
  private validate(capability: Capability, input: unknown): unknown {
    let validator = this.validators.get(capability.name);
    if (!validator) this.validators.set(capability.name, (validator = TypeCompiler.Compile(capability.input)));
    if (validator.Check(input)) return input;
    const raw: unknown = input;
    if (typeof raw === 'string') {
      // Arguments an endpoint sent that were not JSON (a cut-off or broken call).
      const shown = raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
      throw new ToolRefusal(`invalid input for ${capability.name}: the arguments are not a JSON object: ${JSON.stringify(shown)}`, 'invalid', 'schema');
    }
    const errors = schemaErrors(capability.input, validator.Errors(input));
    const first = errors.find((e) => e.keyword !== 'boolean') ?? errors[0];
    const where = first?.instancePath || '(input)';
    const extra = first?.params.additionalProperties as string[] | undefined;
    const detail = extra ? `unexpected field(s) ${extra.join(', ')}` : `${where} ${first?.message ?? 'is invalid'}`;
    throw new ToolRefusal(`invalid input for ${capability.name}: ${detail}`, 'invalid', 'schema');
  }
}

/** The audit rule of an input refused for its size or shape (runtime/broker/input-bounds.ts). */
export const INPUT_BOUNDS_RULE = 'input-bounds';

function boundsMessage(tool: string, problem: string): string {
  return `invalid input for ${tool.slice(0, 200)}: ${problem}; send a smaller, flatter input`;
}

function unknownToolMessage(name: string, granted: readonly string[]): string {
  return `tool "${name}" is not available to this session; available tools: ${granted.join(', ') || 'none'}`;
}

function toolErrorLine(tool: string, err: unknown): string {
  if (err instanceof ToolRefusal || err instanceof ToolFailure) return err.message;
  if (err instanceof ChoragenError) return `${tool} failed: ${err.message}`;
  // Unexpected errors: name the kind, never a stack or a host path.
  const code = (err as NodeJS.ErrnoException)?.code;
  return `${tool} failed${code ? ` (${code})` : ''}: internal error`;
}
