// The stall guard of a streamed model call (--request-timeout): it bounds the
// wait for the first event (headers included) and the gap between two
// events. Past it the guard aborts the request through its own signal and the
// provider throws `stalled()`, a retryable ProviderError that names the
// endpoint, so the model gateway retries it like a dropped connection (at
// once: the timeout was the wait).
// Provider-neutral: any streaming provider touches it once per event.
import { EndpointStalledError } from '../../policy/errors.js';

export class StallGuard {
  /** Aborts when the caller's signal does or when the endpoint stalls: give it to the request. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private last = performance.now();
  private events = 0;
  private fired = false;

  constructor(caller: AbortSignal, private readonly timeoutMs: number | undefined) {
    this.signal = AbortSignal.any([caller, this.controller.signal]);
    if (timeoutMs !== undefined) this.arm(timeoutMs);
  }

  /** Something arrived: the wait starts over. Cheap: one timer per stall, not one per event. */
  touch(): void {
    this.events++;
    this.last = performance.now();
  }

  get stalled(): boolean {
    return this.fired;
  }

  /** The error for a stalled call, naming the endpoint. */
  stallError(endpoint: string): EndpointStalledError {
    const secs = Math.round((this.timeoutMs ?? 0) / 100) / 10;
    const what = this.events === 0 ? `no answer within ${secs}s` : `nothing more for ${secs}s in the middle of an answer`;
    return new EndpointStalledError(`the model endpoint stopped answering (${what}, --request-timeout): ${endpoint}`);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const idle = performance.now() - this.last;
      if (idle < this.timeoutMs!) return this.arm(this.timeoutMs! - idle);
      this.fired = true;
      this.controller.abort(new Error('stalled'));
    }, ms);
  }
}
