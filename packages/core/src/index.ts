export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { ConfigError, InvalidInputError, TradeError } from './errors.js';
export { isDecimalString, isPositiveDecimalString, positiveDecimal } from './decimal.js';
export type { DecimalString } from './decimal.js';
export { SIDES, isSide, sideFromBuyerMaker } from './side.js';
export type { Side } from './side.js';
export { normalizeSymbol } from './symbol.js';
export type { TradingSymbol } from './symbol.js';
export { createTick } from './tick.js';
export type { Tick, TickInput } from './tick.js';
export {
  FRAME_REJECT_REASONS,
  MIN_PLAUSIBLE_TRADE_TIME,
  TICK_REJECT_REASONS,
} from './tick-reject-reason.js';
export type { FrameRejectReason, TickRejectReason } from './tick-reject-reason.js';
export { silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export type { PaperFill, PaperFillWriter } from './paper-fill.js';
export type { RecentTicks } from './recent-ticks.js';
export { createQuote } from './quote.js';
export type { Quote, QuoteInput } from './quote.js';
export type { BookLevel, BookTop } from './book-level.js';
export type { SymbolRules } from './symbol-rules.js';
