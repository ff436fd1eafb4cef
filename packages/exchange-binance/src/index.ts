export { BinanceTradeClient } from './binance-trade-client.js';
export type { BinanceTradeClientOptions } from './client-options.js';
export type {
  BinanceClientEvent,
  BinanceClientStats,
  ConnectionState,
  OpenGap,
  ResumeAheadOfExchange,
} from './client-events.js';
export { SlidingWindowLimit } from './sliding-window-limit.js';
export { ControlQueue } from './control-queue.js';
export { FrameParser } from './frame-parser.js';
export { MAX_FRAME_BYTES, parseFrameText, parseFrameValue } from './parse-frame.js';
export type { FrameResult, TradeStreamType } from './parse-frame.js';
export { RestAnswerError, RestRequestError, RestTrades } from './rest-trades.js';
export type { RestTradesOptions } from './rest-trades.js';
export { SymbolSequencer } from './symbol-sequencer.js';
export type {
  GivenUpIds,
  IdRange,
  OfferOutcome,
  SymbolSequencerOptions,
} from './symbol-sequencer.js';
