import type { Logger } from '@trade/core';
import WebSocket from 'ws';
import type { ResolvedClientOptions } from './client-options.js';
import { ControlQueue } from './control-queue.js';
import type { ShardConnection } from './shard-connection.js';

/**
 * Largest frame ws reads (16 MiB). Frames over MAX_FRAME_BYTES (1 MiB) up to
 * this are read, counted as `oversized_frame` and skipped; beyond it ws has
 * to close the connection, which is counted too and reconnected.
 */
export const MAX_WS_PAYLOAD = 16 << 20;

/** One WebSocket of a shard, and what its shard tracks about it. */
export interface Connection {
  readonly id: number;
  readonly ws: WebSocket;
  readonly shard: ShardConnection;
  readonly control: ControlQueue;
  readonly openedAt: number;
  lastFrameAt: number;
  opened: boolean;
  closed: boolean;
  pinged: boolean;
  /** Symbols whose stream on this connection has reached the delivered position (rotation). */
  readonly caughtUp: Set<string>;
  readonly pendingReplies: Set<number>;
  rotateTimer?: NodeJS.Timeout;
  /** The upgrade was answered with this HTTP status instead of 101. */
  refused?: { status: number; retryAfterMs: number | undefined };
}

let lastId = 0;

/** A fresh id: numbers connections and SUBSCRIBE requests, unique across both. */
export function nextRequestId(): number {
  return ++lastId;
}

/** Opens a WebSocket for `streams` (named in the URL) of `shard`. */
export function openConnection(
  shard: ShardConnection,
  streams: readonly string[],
  options: ResolvedClientOptions,
): Connection {
  const ws = new options.WebSocket(`${options.url}/stream?streams=${streams.join('/')}`, {
    perMessageDeflate: false,
    // Every field a tick uses is checked byte by byte; other bytes are never trusted.
    skipUTF8Validation: true,
    autoPong: false,
    handshakeTimeout: options.connectTimeoutMs,
    // Large enough to read a frame over MAX_FRAME_BYTES and reject it (counted,
    // the connection kept) instead of closing with 1009 and reconnecting in a
    // loop; it bounds the memory one frame may take per connection.
    maxPayload: MAX_WS_PAYLOAD,
  });
  const at = options.now();
  return {
    id: nextRequestId(),
    ws,
    shard,
    control: new ControlQueue(options.controlMessagesPerSecond, options.now),
    openedAt: at,
    lastFrameAt: at,
    opened: false,
    closed: false,
    pinged: false,
    caughtUp: new Set(),
    pendingReplies: new Set(),
  };
}

/** Closes politely (1000), terminating after a second or when that fails; settles once closed. */
export function closeConnection(connection: Connection, reason: string): Promise<void> {
  connection.control.close();
  clearTimeout(connection.rotateTimer);
  const ws = connection.ws;
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const done = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 1000);
    ws.once('close', () => {
      clearTimeout(done);
      resolve();
    });
    try {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, reason.slice(0, 100));
    } catch {
      ws.terminate();
    }
  });
}

/** Logs a refused upgrade (HTTP 429, 418...) of `connection` with the delay before the next attempt. */
export function logRefusal(
  logger: Logger,
  shard: number,
  connection: Connection,
  retryInMs: number,
): void {
  if (!connection.refused) return;
  const { status, retryAfterMs } = connection.refused;
  logger.warn(
    { shard, connection: connection.id, status, retryAfterMs, retryInMs },
    `binance: connection refused (HTTP ${status}), next attempt in ${retryInMs} ms`,
  );
}
