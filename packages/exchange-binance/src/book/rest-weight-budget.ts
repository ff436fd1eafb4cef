/**
 * Where REST requests get their weight: Binance allows 6000 request weight
 * per minute per IP, shared by every request of the process (depth
 * snapshots, trade backfill). Share one limiter between all users of the
 * IP's budget; since {@link waitMs} and {@link spend} are synchronous, a
 * caller that spends right after being told 0 cannot be overtaken.
 */
export interface RestWeightLimiter {
  /** Milliseconds until a request of `weight` fits (0: it may go now). */
  waitMs(weight: number): number;
  /** Records a request of `weight` sent now. */
  spend(weight: number): void;
  /**
   * No request before `epochMs`: the exchange said so (a 429's
   * `Retry-After`, a 418 ban). Optional: a limiter without it only counts weight.
   */
  holdUntil?(epochMs: number): void;
}

/** Options of {@link RestWeightBudget}. */
export interface RestWeightBudgetOptions {
  /**
   * Weight per rolling minute. Default 3000: half of Binance's 6000 per IP,
   * so trade backfill (whose own budget defaults to 2400) still fits beside it.
   */
  weightPerMinute?: number;
  now?: () => number;
}

const WINDOW_MS = 60_000;

/**
 * A {@link RestWeightLimiter} over a rolling minute: at most
 * `weightPerMinute` weight is spent in any 60 s.
 *
 * @example
 * ```ts
 * const budget = new RestWeightBudget({ weightPerMinute: 6000 });
 * // every DepthSync of the process takes the same budget:
 * new DepthSync({ symbol: 'BTCUSDT', fetchSnapshot, budget });
 * ```
 */
export class RestWeightBudget implements RestWeightLimiter {
  readonly weightPerMinute: number;
  private readonly now: () => number;
  /** Requests in the window, oldest first, from `head` on. */
  private readonly spent: { at: number; weight: number }[] = [];
  private head = 0;
  private used = 0;
  private heldUntil = 0;

  constructor(options: RestWeightBudgetOptions = {}) {
    this.weightPerMinute = options.weightPerMinute ?? 3000;
    this.now = options.now ?? Date.now;
  }

  /** Weight spent in the last 60 s. */
  get usedWeight(): number {
    this.expire(this.now());
    return this.used;
  }

  waitMs(weight: number): number {
    const now = this.now();
    this.expire(now);
    const held = Math.max(0, this.heldUntil - now);
    // A request heavier than the whole budget goes alone, into an empty window.
    const room = Math.max(0, this.weightPerMinute - Math.min(weight, this.weightPerMinute));
    let used = this.used;
    let i = this.head;
    while (used > room && i < this.spent.length) used -= this.spent[i++]!.weight;
    // Waiting until the newest of the requests that must leave the window has left it.
    const freed = i === this.head ? 0 : this.spent[i - 1]!.at + WINDOW_MS - now;
    return Math.max(held, freed);
  }

  spend(weight: number): void {
    const now = this.now();
    this.expire(now);
    this.spent.push({ at: now, weight });
    this.used += weight;
  }

  holdUntil(epochMs: number): void {
    this.heldUntil = Math.max(this.heldUntil, epochMs);
  }

  private expire(now: number): void {
    const spent = this.spent;
    while (this.head < spent.length && spent[this.head]!.at <= now - WINDOW_MS) {
      this.used -= spent[this.head++]!.weight;
    }
    if (this.head > 1024 && this.head * 2 > spent.length) {
      spent.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The request weight of `GET /api/v3/depth` at `limit`: 5 up to 100
 * levels, 25 up to 500, 50 up to 1000, 250 up to 5000.
 */
export function depthSnapshotWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}
