import type { NatsConnection } from '@nats-io/nats-core';

/** What {@link watchConnection} tells. */
export interface ConnectionListener {
  /** The connection dropped, or was closed. */
  onDown(): void;
  /** The client reconnected. */
  onUp(): void;
}

/**
 * Follows a connection's status: `onDown` at a disconnect or a close,
 * `onUp` at a reconnect. Returns the function that stops following it.
 *
 * @example
 * ```ts
 * const stop = watchConnection(nc, { onDown: () => pause(), onUp: () => resume() });
 * // at close:
 * stop();
 * ```
 */
export function watchConnection(nc: NatsConnection, listener: ConnectionListener): () => void {
  const statuses = nc.status();
  let watching = true;
  void (async () => {
    for await (const status of statuses) {
      if (!watching) break;
      if (status.type === 'disconnect' || status.type === 'close') listener.onDown();
      else if (status.type === 'reconnect' && !nc.isClosed()) listener.onUp();
    }
  })();
  void nc.closed().then(() => {
    if (watching) listener.onDown();
  });
  return () => {
    watching = false;
    // The client's status iterator ends when stopped; an async iterator alone would wait for the next event.
    (statuses as { stop?: () => void }).stop?.();
  };
}
