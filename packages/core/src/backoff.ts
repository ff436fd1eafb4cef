/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay. Default 250 ms. */
  initialMs?: number;
  /** Largest delay. Default 30 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Fraction of each delay that is random: `0.5` gives a delay between half
   * and all of the exponential value. Default 0.5.
   */
  jitter?: number;
}

/**
 * Exponential backoff with jitter: 250 ms, 500 ms, 1 s ... capped at 30 s by
 * default, each reduced by a random part so many clients do not retry in step.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialMs: 250, maxMs: 30_000 });
 * setTimeout(reconnect, backoff.next());
 * // once the connection has been stable for a while:
 * backoff.reset();
 * ```
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  /** Delays handed out since the last {@link reset}. */
  attempt = 0;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 250;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  }

  /** The delay before the next attempt; grows each call. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** Back to the first delay. */
  reset(): void {
    this.attempt = 0;
  }
}
