// The token and cost budget of one session tree (--max-tokens, --max-cost).
// Pure bookkeeping: the gateway checks it before each model call and adds
// each call's usage after; the broker acts on what it reports.
import type { Usage } from '../providers/provider.js';

export interface BudgetState { tokens: number; cost: number }

export class TreeBudget {
  private tokens = 0;
  private cost = 0;
  private warned = false;
  /** Models whose cost was estimated: the price table does not know them. */
  private readonly estimated = new Set<string>();

  constructor(readonly maxTokens?: number, readonly maxCost?: number) {}

  static totalTokens(u: Usage): number {
    return u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens;
  }

  /** The share of the tighter limit already spent (0 when unlimited). */
  fraction(): number {
    const t = this.maxTokens ? this.tokens / this.maxTokens : 0;
    const c = this.maxCost ? this.cost / this.maxCost : 0;
    return Math.max(t, c);
  }

  spent(): boolean {
    return this.fraction() >= 1;
  }

  /**
   * Adds one call's usage; says whether to warn (once, at 80%) and whether the
   * budget is now spent. `estimatedFor`: the model, when its cost is an estimate.
   */
  add(usage: Usage, cost: number, estimatedFor?: string): { warn: boolean; spent: boolean } {
    if (estimatedFor !== undefined) this.estimated.add(estimatedFor);
    this.tokens += TreeBudget.totalTokens(usage);
    this.cost += cost;
    const fraction = this.fraction();
    const warn = !this.warned && fraction >= 0.8 && fraction < 1;
    if (warn) this.warned = true;
    return { warn, spent: fraction >= 1 };
  }

  state(): BudgetState {
    return { tokens: this.tokens, cost: this.cost };
  }

  describe(): string {
    const parts: string[] = [];
    if (this.maxTokens) parts.push(`${this.tokens}/${this.maxTokens} tokens`);
    if (this.maxCost) {
      const estimate = this.estimated.size ? ` (estimated: no known price for ${[...this.estimated].join(', ')})` : '';
      parts.push(`$${this.cost.toFixed(4)}/$${this.maxCost} cost${estimate}`);
    }
    return parts.join(', ');
  }
}
