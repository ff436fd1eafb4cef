export {
  DEFAULT_STREAM_SUBJECTS,
  TRADE_CHANNEL,
  parseSubject,
  tradeMsgId,
  tradeSubject,
} from './subjects.js';
export type { BusSubject } from './subjects.js';
export { BUS_REJECT_REASONS, TICK_MESSAGE_VERSION, decodeTick, encodeTick } from './tick-codec.js';
export type { BusRejectReason, DecodedTick } from './tick-codec.js';
export {
  DEFAULT_STREAM,
  MIN_DUPLICATE_WINDOW_MS,
  ensureTradeStream,
  lastTradeIds,
} from './stream.js';
export type { EnsureTradeStreamResult, TradeStreamOptions } from './stream.js';
export type { BusSpool } from './spool-feeder.js';
export { TickPublisher } from './tick-publisher.js';
export { startTickPublisher } from './start-tick-publisher.js';
export type {
  TickPublisherCloseResult,
  TickPublisherHealth,
  TickPublisherOptions,
  TickPublisherStats,
} from './tick-publisher-options.js';
export { TickConsumer } from './tick-consumer.js';
export { startTickConsumer } from './start-tick-consumer.js';
export { DEFAULT_CONSUMER } from './tick-consumer-options.js';
export type {
  RejectedBusMessage,
  ConsumerDeliverPolicy,
  TickConsumerOptions,
  TickConsumerStats,
} from './tick-consumer-options.js';
