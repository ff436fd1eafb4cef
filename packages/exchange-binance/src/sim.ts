export { MALFORMED_KINDS, REST_LIE_KINDS, startBinanceSimulator } from './sim/binance-simulator.js';
export type {
  BinanceSimulator,
  BinanceSimulatorOptions,
  MalformedKind,
  RefuseConnectionsOptions,
  RestLieKind,
  SimConnectionInfo,
  SimFaultKind,
  SimRequestLogEntry,
  SimQuote,
  SimSymbolRulesOptions,
  SimulatorStats,
} from './sim/binance-simulator.js';
export { TradeHistory, formatPrice, formatQuantity } from './sim/trade-history.js';
export type { SimTrade } from './sim/trade-history.js';
