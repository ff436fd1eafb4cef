import type { Quote } from '@trade/core';
import {
  startBookSnapshotConsumer,
  startQuoteConsumer,
  type BusBookSnapshot,
  type ConsumerDeliverPolicy,
  type RecordConsumer,
} from '@trade/bus';
import type { TradingMetrics } from '@trade/metrics';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { Resource } from './resources.js';

/** What each kind of message of the bus goes to; a rejection naks the batch for redelivery. */
export interface BookHandlers {
  readonly quotes: (quotes: Quote[]) => Promise<void>;
  readonly books: (snapshots: BusBookSnapshot[]) => Promise<void>;
}

/**
 * Starts the durable consumers of the quotes (`<consumer>-quotes`, subjects
 * `md.binance.bookTicker.>`) and the book snapshots (`<consumer>-books`,
 * `md.binance.depth.>`) beside a role's tick consumer. A batch is acked
 * once its handler resolved. Resolves with a closer for both.
 */
export async function startBookConsumers(options: {
  readonly nc: NatsConnection;
  readonly stream: string;
  /** The role's tick consumer name: these are named after it. */
  readonly consumer: string;
  readonly deliverPolicy?: ConsumerDeliverPolicy;
  readonly handlers: BookHandlers;
  readonly metrics: TradingMetrics;
  readonly logger: Logger;
  readonly resources: Resource[];
}): Promise<{ readonly close: () => Promise<void>; readonly names: string[] }> {
  const common = {
    nc: options.nc,
    stream: options.stream,
    metrics: options.metrics,
    logger: options.logger,
    ...(options.deliverPolicy ? { deliverPolicy: options.deliverPolicy } : {}),
  };
  const consumers: RecordConsumer<unknown>[] = [];
  const close = async () => {
    for (const consumer of consumers.splice(0)) await consumer.close();
  };
  options.resources.push({ name: 'quote and book consumers', close });
  consumers.push(
    await startQuoteConsumer({
      ...common,
      consumer: `${options.consumer}-quotes`,
      handler: options.handlers.quotes,
    }),
  );
  consumers.push(
    await startBookSnapshotConsumer({
      ...common,
      consumer: `${options.consumer}-books`,
      handler: options.handlers.books,
    }),
  );
  return { close, names: consumers.map((c) => c.name) };
}
