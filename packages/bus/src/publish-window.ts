import type { BusPublishFailureReason } from '@trade/metrics';

/** How one publish ended: JetStream's ack, or why there was none. */
export type PublishOutcome =
  | { readonly ok: true; readonly duplicate: boolean }
  | { readonly ok: false; readonly reason: BusPublishFailureReason; readonly error: unknown };

/** Sends one record to JetStream; resolves with its ack (`duplicate` said by the server). */
export type SendRecord<T> = (record: T) => Promise<{ duplicate: boolean }>;

/** Told of every publish's end, `abandoned` when {@link PublishWindow.abandon} gave it up first. */
export type OutcomeListener<T> = (record: T, outcome: PublishOutcome, abandoned: boolean) => void;

interface Entry<T> {
  readonly tick: T;
  settled: boolean;
  /** Settled without an ack: not stored, so it stays until {@link PublishWindow.abandon} hands it back. */
  failed: boolean;
  abandoned: boolean;
}

/**
 * The publishes under way, in the order they were sent. They all go over
 * one connection, so JetStream stores them in that order: when one fails,
 * the ones after it may have failed too, and none of them is known stored
 * until its own ack. {@link abandon} hands back every record not acked, the
 * failed ones included, oldest first, for the caller to send again later
 * (JetStream drops a repeat of a message id it holds).
 *
 * @example
 * ```ts
 * const window = new PublishWindow(send, (tick, outcome, abandoned) => count(outcome));
 * while (window.size < 256 && queue.length > 0) window.publish(queue.shift()!);
 * // the connection dropped:
 * spool.append(window.abandon());
 * ```
 */
export class PublishWindow<T> {
  readonly #send: SendRecord<T>;
  readonly #listener: OutcomeListener<T>;
  #entries: Entry<T>[] = [];
  #head = 0;
  #pending = 0;

  constructor(send: SendRecord<T>, listener: OutcomeListener<T>) {
    this.#send = send;
    this.#listener = listener;
  }

  /** Publishes waiting for their ack, those abandoned left out. */
  get size(): number {
    return this.#pending;
  }

  publish(tick: T): void {
    const entry: Entry<T> = { tick, settled: false, failed: false, abandoned: false };
    this.#entries.push(entry);
    this.#pending += 1;
    let sent: Promise<{ duplicate: boolean }>;
    try {
      sent = this.#send(tick);
    } catch (error) {
      sent = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void sent.then(
      (ack) => this.#settle(entry, { ok: true, duplicate: ack.duplicate }),
      (error: unknown) =>
        this.#settle(entry, { ok: false, reason: publishFailureReason(error), error }),
    );
  }

  /**
   * Gives up on every publish not acked: those still waiting for their ack
   * and those that failed, their ticks oldest first. The outcomes of the
   * waiting ones still reach the listener, flagged `abandoned` (a late ack
   * means the tick is stored after all).
   */
  abandon(): T[] {
    const ticks: T[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (entry.settled && !entry.failed) continue;
      entry.abandoned = true;
      ticks.push(entry.tick);
    }
    this.#entries = [];
    this.#head = 0;
    this.#pending = 0;
    return ticks;
  }

  #settle(entry: Entry<T>, outcome: PublishOutcome): void {
    entry.settled = true;
    if (!entry.abandoned) {
      this.#pending -= 1;
      entry.failed = !outcome.ok;
      // A failed entry holds the head: its tick is handed back by abandon(), in its place.
      while (this.#head < this.#entries.length) {
        const head = this.#entries[this.#head]!;
        if (!head.settled || head.failed) break;
        this.#head += 1;
      }
      if (this.#head === this.#entries.length) {
        this.#entries = [];
        this.#head = 0;
      }
    }
    this.#listener(entry.tick, outcome, entry.abandoned);
  }
}

/**
 * Sorts a publish error into a `reason` of `trading_bus_publish_failures_total`,
 * by the error's name (the NATS client's classes may come from another copy).
 */
export function publishFailureReason(error: unknown): BusPublishFailureReason {
  const name = error instanceof Error ? error.name : '';
  const cause =
    error instanceof Error ? (error.cause as { name?: unknown } | undefined) : undefined;
  switch (name) {
    case 'TimeoutError':
      return 'timeout';
    case 'JetStreamNotEnabled':
    case 'NoResponders':
      return 'no_responders';
    case 'JetStreamApiError':
    case 'JetStreamError':
      return 'refused';
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
      return 'connection_closed';
    case 'RequestError':
      if (cause?.name === 'NoResponders') return 'no_responders';
      if (cause?.name === 'TimeoutError') return 'timeout';
      return 'connection_closed';
    default:
      return 'other';
  }
}
