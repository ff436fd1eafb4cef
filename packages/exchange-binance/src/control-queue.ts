/**
 * Sends a connection's outgoing messages (SUBSCRIBE, pings, pongs) evenly
 * spaced, at most `perSecond`: Binance drops a connection that sends more
 * than 5 messages a second, and counts pings and pongs among them. Even
 * spacing (not bursts) keeps the count under the limit however the server's
 * one-second window falls, even when network delay bunches messages up.
 */
export class ControlQueue {
  private readonly intervalMs: number;
  private readonly queue: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  /** Queued messages not sent yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs `send` now if the spacing allows, otherwise as soon as it does, in order. */
  send(send: () => void): void {
    if (this.closed) return;
    this.queue.push(send);
    this.pump();
  }

  /** Drops what is queued and stops. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer || this.closed || this.queue.length === 0) return;
    const at = this.now();
    const wait = this.lastSentAt + this.intervalMs - at;
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.lastSentAt = at;
    this.queue.shift()!();
    this.pump();
  }
}
