export { runBacktest } from './backtest.js';
export { BacktestRecorder } from './backtest-recorder.js';
export type {
  BacktestFillRecord,
  BacktestRecorderOptions,
  BacktestRecording,
} from './backtest-recorder.js';
export type { BacktestSample } from './series-sampler.js';
export type {
  BacktestOptions,
  BacktestProgress,
  BacktestSummary,
  TimedBookTop,
} from './backtest.js';
export type { SymbolRulesSource } from './exchange-rules.js';
export { FillLog } from './fill-log.js';
export type { FillLogOptions, FillWriteOutcome, FillWriter, RefusedFill } from './fill-log.js';
export { PaperEngine } from './paper-engine.js';
export type { MarketLiquidity } from './market-view.js';
export type { PaperEngineOptions, PaperEngineState } from './paper-engine.js';
export type { SharpePeriod, SharpeRatio } from './performance.js';
export { Portfolio } from './portfolio.js';
export type {
  ExactBalances,
  OrderMarket,
  OrderResult,
  PortfolioOptions,
  PortfolioSnapshot,
  PositionSnapshot,
  PositionState,
  RoundTripStats,
} from './portfolio.js';
export type { PositionSizing } from './position-sizing.js';
export { startPaperEngine } from './start-paper-engine.js';
export type { StartPaperEngineOptions } from './start-paper-engine.js';
export { rsiStrategy } from './rsi.js';
export type { RsiOptions } from './rsi.js';
export { smaCrossover } from './sma-crossover.js';
export type { SmaCrossoverOptions } from './sma-crossover.js';
export { HOLD, REJECT_REASONS, buySignal, sellSignal } from './strategy.js';
export type {
  ExactFill,
  ExecutedFill,
  FillSource,
  OrderRejection,
  RejectReason,
  Signal,
  SignalAction,
  Strategy,
  StrategyContext,
  StrategyDefinition,
} from './strategy.js';
export {
  STRATEGIES,
  STRATEGY_NAMES,
  UnknownStrategyError,
  strategyByName,
} from './strategy-registry.js';
export type { StrategyName, StrategyOptions } from './strategy-registry.js';
