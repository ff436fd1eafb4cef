export { MarketDataService } from './market-data-service.js';
export { startMarketDataService } from './start-market-data-service.js';
export type {
  MarketDataHealth,
  MarketDataServiceOptions,
  MarketDataServiceStats,
  MarketDataStopResult,
  TickCacheWriter,
} from './market-data-service-types.js';
export { lostRanges } from './lost-ranges.js';
export type { LostTickRange } from './lost-ranges.js';
export { TickRepository, isDataError } from './tick-repository.js';
export type {
  Candle,
  CandleOptions,
  InsertTicksOptions,
  InsertTicksResult,
  RejectedTick,
  TickStreamOptions,
  TickWriter,
  TimeRange,
} from './tick-repository.js';
export { PaperTradeRepository } from './paper-trade-repository.js';
export type {
  PaperFillWriteResult,
  RefusedPaperFill,
  StoredPaperFill,
} from './paper-trade-repository.js';
export { QuoteRepository } from './quote-repository.js';
export type { InsertQuotesResult, RejectedQuote } from './quote-repository.js';
export { BookSnapshotRepository } from './book-snapshot-repository.js';
export { SymbolRulesRepository } from './symbol-rules-repository.js';
export { CANDLE_INTERVALS, CandleRepository } from './candle-repository.js';
export type { CandleInterval } from './candle-repository.js';
export {
  DailyPartitions,
  DAY_MS,
  dayFromText,
  dayOf,
  dayText,
  listPartitions,
  PARTITIONED_TABLES,
  partitionName,
} from './daily-partitions.js';
export type { DailyPartition, PartitionedTable } from './daily-partitions.js';
export { ArchiveCheckError, ParquetArchive } from './archive/index.js';
export type { ArchivedDay, ArchivedTable, ParquetArchiveOptions } from './archive/index.js';
export { mergeByTime } from './merge-by-time.js';
export { StorageRetention } from './storage-retention.js';
export type { DayArchive, RetentionReport, StorageRetentionOptions } from './storage-retention.js';
export type {
  BookSnapshot,
  InsertBookSnapshotsResult,
  RejectedBookSnapshot,
  StoredBookTop,
} from './book-snapshot-repository.js';
export { RecordRecorder } from './record-recorder.js';
export type {
  RecordInsertResult,
  RecordRecorderCloseResult,
  RecordRecorderHealth,
  RecordRecorderOptions,
  RecordRecorderStats,
  RejectedRecord,
} from './record-recorder-types.js';
export { RecordSpool } from './record-spool.js';
export type { RecordCodec, RecordSpoolOptions } from './record-spool.js';
export { quoteCodec, startQuoteRecorder } from './quote-recorder.js';
export type { QuoteRecorder, QuoteRecorderOptions } from './quote-recorder.js';
export { bookSnapshotCodec, startBookSnapshotRecorder } from './book-snapshot-recorder.js';
export type {
  BookSnapshotRecorder,
  BookSnapshotRecorderOptions,
} from './book-snapshot-recorder.js';
export type { RowsByTimeOptions } from './rows-by-time.js';
export { TickCache } from './tick-cache.js';
export type { TickCacheOptions } from './tick-cache.js';
export { QUARANTINE_DIR } from './spool-quarantine.js';
export { openTickSpool } from './open-tick-spool.js';
export type { OpenTickSpoolOptions } from './open-tick-spool.js';
export type { TickSpool } from './tick-spool.js';
export { migrateToLatest } from './migrations.js';
export type { MigrateOptions } from './migrations.js';
export { createPgliteDb, createPostgresDb } from './postgres.js';
export type { CreatePostgresDbOptions } from './postgres.js';
export type {
  BookSnapshotsTable,
  MarketDataDatabase,
  PaperTradesTable,
  QuoteDataTable,
  SymbolRulesTable,
  Candles1mTable,
  TickDataTable,
} from './schema.js';
