import { SlidingWindowLimit } from './sliding-window-limit.js';

/**
 * When the next connection attempt may go, for every shard of one client:
 * Binance counts attempts per IP (300 per 5 minutes), and a refused
 * upgrade's `Retry-After` holds back the whole IP, not one shard.
 */
export class ConnectGate {
  private readonly attempts: SlidingWindowLimit;
  /** No connection attempt before this (epoch ms): a refused upgrade's `Retry-After`. */
  private blockedUntil = 0;

  constructor(
    maxAttempts: number,
    private readonly now: () => number,
  ) {
    this.attempts = new SlidingWindowLimit(maxAttempts, 300_000);
  }

  /** Milliseconds before an attempt may go because the attempt limit is reached (0: now). */
  limitDelay(): number {
    return this.attempts.delay(this.now());
  }

  /** Milliseconds before an attempt may go because of a refusal's `Retry-After` (<= 0: now). */
  blockedFor(): number {
    return this.blockedUntil - this.now();
  }

  /** An attempt goes now. */
  record(): void {
    this.attempts.record(this.now());
  }

  /** A refusal asked the IP to wait until `until` (epoch ms). */
  blockUntil(until: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, until);
  }
}
