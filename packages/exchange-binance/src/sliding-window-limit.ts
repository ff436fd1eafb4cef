/**
 * At most `max` events in any `windowMs`: Binance allows 300 connection
 * attempts per 5 minutes per IP, and 5 incoming messages per second per connection.
 *
 * @example
 * ```ts
 * const attempts = new SlidingWindowLimit(300, 300_000);
 * const wait = attempts.delay(Date.now()); // 0 when an attempt may go now
 * ```
 */
export class SlidingWindowLimit {
  private readonly times: number[] = [];

  constructor(
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Milliseconds until one more event fits in the window (0: now). */
  delay(now: number): number {
    this.expire(now);
    if (this.times.length < this.max) return 0;
    return this.times[this.times.length - this.max]! + this.windowMs - now;
  }

  /** Records an event at `now`. */
  record(now: number): void {
    this.expire(now);
    this.times.push(now);
  }

  /** Events in the window ending at `now`. */
  count(now: number): number {
    this.expire(now);
    return this.times.length;
  }

  private expire(now: number): void {
    while (this.times.length > 0 && this.times[0]! <= now - this.windowMs) this.times.shift();
  }
}
