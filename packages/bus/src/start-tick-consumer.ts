import { TickConsumer } from './tick-consumer.js';
import type { TickConsumerOptions } from './tick-consumer-options.js';

/**
 * Creates a {@link TickConsumer}, ensures its durable consumer and starts
 * pulling: the packages' `startX` idiom, released with `close()`. A bad
 * option rejects with a `ConfigError` naming it.
 *
 * @example
 * ```ts
 * const consumer = await startTickConsumer({
 *   nc, consumer: 'store', batchSize: 500,
 *   handler: async (ticks) => { await repository.insertTicks(ticks) },
 * });
 * ```
 */
export async function startTickConsumer(options: TickConsumerOptions): Promise<TickConsumer> {
  const consumer = new TickConsumer(options);
  await consumer.start();
  return consumer;
}
