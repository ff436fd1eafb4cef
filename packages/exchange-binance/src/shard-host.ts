import type { TickRejectReason } from '@trade/core';
import type { BinanceClientEvent } from './client-events.js';
import type { Connection } from './connection.js';
import type { ShardConnection } from './shard-connection.js';

/** What a {@link ShardConnection} tells the client it belongs to. */
export interface ShardHost {
  /** A frame arrived on `connection` at `at` (the burst's time). */
  onFrame(connection: Connection, data: Buffer, at: number): void;
  emit(event: BinanceClientEvent): void;
  reject(reason: TickRejectReason, detail: string): void;
  /** The shard is back after a disconnection: trades made meanwhile are missing. */
  onReconnected(shard: ShardConnection): void;
  /** A rotation's overlap ended: gaps seen meanwhile may be real. */
  onRotationFinished(shard: ShardConnection): void;
  /** A connection opened or closed: `wsConnectionStatus` may change. */
  onStatusChange(): void;
}
