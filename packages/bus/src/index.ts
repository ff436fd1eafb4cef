export {
  BOOK_TICKER_CHANNEL,
  DEFAULT_STREAM_SUBJECTS,
  DEPTH_CHANNEL,
  TRADE_CHANNEL,
  channelFilter,
  parseSubject,
  tradeMsgId,
  tradeSubject,
} from './subjects.js';
export type { BusSubject } from './subjects.js';
export { BUS_REJECT_REASONS } from './record-kind.js';
export type { BusRecordKind, BusRejectReason, BusRejection, DecodedRecord } from './record-kind.js';
export { TICK_MESSAGE_VERSION, decodeTick, encodeTick, tickKind } from './tick-codec.js';
export type { DecodedTick } from './tick-codec.js';
export { QUOTE_MESSAGE_VERSION, decodeQuote, encodeQuote, quoteKind } from './quote-codec.js';
export type { DecodedQuote } from './quote-codec.js';
export {
  BOOK_SNAPSHOT_MESSAGE_VERSION,
  bookSnapshotKind,
  checkBookSnapshot,
  decodeBookSnapshot,
  encodeBookSnapshot,
} from './book-snapshot-codec.js';
export type { BusBookSnapshot, DecodedBookSnapshot } from './book-snapshot-codec.js';
export {
  DEFAULT_STREAM,
  MIN_DUPLICATE_WINDOW_MS,
  ensureTradeStream,
  lastTradeIds,
} from './stream.js';
export type { EnsureTradeStreamResult, TradeStreamOptions } from './stream.js';
export type { BusRecordSpool, BusSpool } from './spool-feeder.js';
export { RecordPublisher } from './record-publisher.js';
export {
  BOOK_SNAPSHOT_LIMITS,
  startBookSnapshotPublisher,
  startQuotePublisher,
  startRecordPublisher,
} from './start-record-publisher.js';
export type { KindPublisherOptions } from './start-record-publisher.js';
export { RECORD_LIMITS } from './record-publisher-options.js';
export type {
  RecordPublisherCloseResult,
  RecordPublisherHealth,
  RecordPublisherOptions,
  RecordPublisherStats,
} from './record-publisher-options.js';
export { TickPublisher } from './tick-publisher.js';
export { startTickPublisher } from './start-tick-publisher.js';
export type {
  TickPublisherCloseResult,
  TickPublisherHealth,
  TickPublisherOptions,
  TickPublisherStats,
} from './tick-publisher-options.js';
export { RecordConsumer } from './record-consumer.js';
export {
  DEFAULT_BOOK_SNAPSHOT_CONSUMER,
  DEFAULT_QUOTE_CONSUMER,
  startBookSnapshotConsumer,
  startQuoteConsumer,
  startRecordConsumer,
} from './start-record-consumer.js';
export type { KindConsumerOptions } from './start-record-consumer.js';
export type {
  ConsumerDeliverPolicy,
  RecordConsumerOptions,
  RecordConsumerStats,
  RejectedBusMessage,
} from './record-consumer-options.js';
export { TickConsumer } from './tick-consumer.js';
export { startTickConsumer } from './start-tick-consumer.js';
export { DEFAULT_CONSUMER } from './tick-consumer-options.js';
export type { TickConsumerOptions, TickConsumerStats } from './tick-consumer-options.js';
