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
export { parseFrameText } from './parse-frame.js';
export type { FrameResult, TradeStreamType } from './parse-frame.js';
