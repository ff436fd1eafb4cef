export { BinanceTradeClient } from './binance-trade-client.js';
export { startBinanceTradeClient } from './start-binance-trade-client.js';
export type { BinanceTradeClientOptions } from './client-options.js';
export type {
  BinanceClientEvent,
  BinanceClientStats,
  ConnectionState,
  OpenGap,
  ResumeAheadOfExchange,
} from './client-events.js';
export { MARKET_CHANNELS, resolveChannels, streamNamesOf } from './market-channel.js';
export type { MarketChannel } from './market-channel.js';
export type { BookChannelStats } from './book-channels.js';
export { fetchSymbolRules } from './exchange-info.js';
export type { FetchSymbolRulesOptions } from './exchange-info.js';
export { RestAnswerError, RestRequestError } from './rest-trades.js';
export { parseFrameText } from './parse-frame.js';
export type { FrameResult, TradeStreamType } from './parse-frame.js';
export { BOOK_REJECT_REASONS } from './book/book-reject-reason.js';
export type { BookReject, BookRejectReason } from './book/book-reject-reason.js';
export { parseBookTicker, parseBookTickerText } from './book/parse-book-ticker.js';
export type { QuoteParse } from './book/parse-book-ticker.js';
export {
  MAX_DEPTH_LIMIT,
  parseDepthDiff,
  parseDepthDiffText,
  parseDepthSnapshot,
} from './book/parse-depth.js';
export type {
  DepthDiff,
  DepthDiffParse,
  DepthSnapshot,
  DepthSnapshotParse,
  DepthSnapshotRequest,
} from './book/parse-depth.js';
export { OrderBook } from './book/order-book.js';
export type { BookDiffInput, BookSnapshotInput } from './book/order-book.js';
export { DepthSync } from './book/depth-sync.js';
export type { DepthSyncOptions, FetchDepthSnapshot } from './book/depth-sync.js';
export type {
  BookLoss,
  DepthSyncEvent,
  DepthSyncStats,
  ResyncReason,
} from './book/depth-sync-events.js';
export { RestWeightBudget, depthSnapshotWeight } from './book/rest-weight-budget.js';
export { createDepthFetcher } from './book/rest-depth.js';
export type { DepthFetcherOptions } from './book/rest-depth.js';
export type { RestWeightBudgetOptions, RestWeightLimiter } from './book/rest-weight-budget.js';
