import { FRAME_REJECT_REASONS, InvalidInputError, type Logger } from '@trade/core';
import type { Market, MarketSymbol } from './market.js';
import type { SimTrade } from './trade-history.js';

/** A fault the simulator can inject. */
export type SimFaultKind =
  | 'drop'
  | 'stall'
  | 'gap'
  | 'duplicate'
  | 'malformed'
  | 'serverShutdown'
  | 'refuse'
  | 'dropDepthDiff';

/**
 * Malformed frames {@link BinanceSimulator.malformed} can send: one per
 * reason of @trade/core's `FRAME_REJECT_REASONS`, the reasons one stream
 * frame earns on its own. Each frame sent is counted once under its kind.
 * The other reasons of `TICK_REJECT_REASONS` take more than one frame:
 * `ahead_of_exchange` comes from {@link BinanceSimulator.bogusTrade} once the
 * client has asked REST for the newest id, `invalid_rest_answer` from
 * {@link BinanceSimulator.lieRest}.
 */
export const MALFORMED_KINDS = FRAME_REJECT_REASONS;

/** One of {@link MALFORMED_KINDS}. */
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/**
 * Lies {@link BinanceSimulator.lieRest} can tell in a REST trade answer:
 * - `too_many_rows`: twice the rows asked for, real ones then made-up ones;
 * - `ids_out_of_range`: the real rows under ids past the asked range;
 * - `wrong_symbol`: another symbol's trades for the asked ids, each row
 *   carrying that symbol;
 * - `huge_body`: the honest rows followed by 8 MiB of whitespace.
 */
export const REST_LIE_KINDS = [
  'too_many_rows',
  'ids_out_of_range',
  'wrong_symbol',
  'huge_body',
] as const;

/** One of {@link REST_LIE_KINDS}. */
export type RestLieKind = (typeof REST_LIE_KINDS)[number];
/** Options of {@link BinanceSimulator.refuseConnections}. */
export interface RefuseConnectionsOptions {
  /** HTTP status of the refusal. Default `503`. */
  status?: number;
  /** Sent as the `Retry-After` header (seconds) when set. */
  retryAfterSeconds?: number;
}

/** Default size of `malformed('oversized_frame')`: a little over the client's 1 MiB frame limit. */
export const OVERSIZED_FRAME_BYTES = (1 << 20) + 1024;

/** What the fault injector needs of the WebSocket side (a `StreamServer`). */
export interface StreamFaultTarget {
  dropAll(): void;
  silence(until: number): void;
  shutdown(closeAfterMs: number): void;
  sendEach(frame: (connection: { readonly combined: boolean }) => string): void;
  broadcast(symbol: MarketSymbol, id: number): void;
  broadcastTrade(symbol: MarketSymbol, trade: SimTrade): void;
  flushAll(): void;
}

/** One fault {@link planFaults} drew, with the arguments to inject it with. */
export type PlannedFault =
  | { readonly kind: 'drop' }
  | { readonly kind: 'stall'; readonly ms: number }
  | { readonly kind: 'gap'; readonly count: number }
  | { readonly kind: 'duplicate'; readonly count: number }
  | { readonly kind: 'malformed'; readonly malformed: MalformedKind }
  | { readonly kind: 'serverShutdown' }
  | { readonly kind: 'refuse'; readonly ms: number }
  | { readonly kind: 'dropDepthDiff' };

/**
 * The faults of one second of the random schedule: each kind of `rates`
 * (mean occurrences per minute) happens with probability `rate / 60`, in the
 * order of `rates`' keys. `random` also draws the arguments (a gap of 1-20
 * trades, 1-3 duplicates, the malformed kind), so one seed gives one schedule.
 *
 * @example
 * ```ts
 * planFaults({ drop: 60 }, Math.random); // [{ kind: 'drop' }]: 60 a minute is every second
 * ```
 */
export function planFaults(
  rates: Partial<Record<SimFaultKind, number>>,
  random: () => number,
): PlannedFault[] {
  const planned: PlannedFault[] = [];
  for (const [kind, perMinute] of Object.entries(rates) as [SimFaultKind, number][]) {
    if (random() >= perMinute / 60) continue;
    if (kind === 'drop') planned.push({ kind });
    else if (kind === 'stall') planned.push({ kind, ms: 5_000 });
    else if (kind === 'gap') planned.push({ kind, count: 1 + Math.floor(random() * 20) });
    else if (kind === 'duplicate') planned.push({ kind, count: 1 + Math.floor(random() * 3) });
    else if (kind === 'malformed') {
      const malformed = MALFORMED_KINDS[Math.floor(random() * MALFORMED_KINDS.length)]!;
      planned.push({ kind, malformed });
    } else if (kind === 'serverShutdown' || kind === 'dropDepthDiff') planned.push({ kind });
    else planned.push({ kind: 'refuse', ms: 3_000 });
  }
  return planned;
}

/** What {@link malformedFrame} builds a frame from. */
export interface MalformedFrameContext {
  /** The connection is combined (`/stream`): stream frames are wrapped. */
  readonly combined: boolean;
  /** The symbol the frame names. */
  readonly first: MarketSymbol;
  /** Another symbol (or `first` when there is one), for `symbol_mismatch`. */
  readonly other: MarketSymbol;
  /** Event and trade time. */
  readonly at: number;
  /** The padding of `oversized_frame`, built on demand: it is megabytes. */
  readonly padding: () => string;
}

/** The text of one malformed frame of `kind`, earning exactly that reject reason. */
export function malformedFrame(kind: MalformedKind, context: MalformedFrameContext): string {
  const { combined, first, other, at } = context;
  const wrap = (data: string) =>
    combined ? `{"stream":"${first.tradeStream}","data":${data}}` : data;
  switch (kind) {
    case 'invalid_json':
      return '{"stream":"btcusdt@trade","data":{"e":"trade",';
    case 'not_an_object':
      return '[1,2,3]';
    case 'unknown_event':
      return wrap(`{"e":"kline","E":${at},"s":"${first.symbol}"}`);
    case 'missing_field':
      return wrap(
        `{"e":"trade","E":${at},"s":"${first.symbol}","p":"1.0","q":"1.0","T":${at},"m":true}`,
      );
    case 'invalid_field':
      return wrap(
        `{"e":"trade","E":${at},"s":"${first.symbol}","t":"x","p":"1.0","q":"1.0","T":${at},"m":true}`,
      );
    case 'non_positive':
      return wrap(
        `{"e":"trade","E":${at},"s":"${first.symbol}","t":1,"p":"0.00000000","q":"1.0","T":${at},"m":true}`,
      );
    case 'subscription_reply':
      return '{"result":null,"id":987654}';
    case 'error_payload':
      return '{"code":-1003,"msg":"Too much request weight used."}';
    case 'symbol_mismatch':
      return combined
        ? `{"stream":"${first.tradeStream}","data":{"e":"trade","E":${at},"s":"${other === first ? 'ZZZUSDT' : other.symbol}","t":1,"p":"1.0","q":"1.0","T":${at},"m":true}}`
        : `{"e":"trade","E":${at},"s":"ZZZUSDT","t":1,"p":"1.0","q":"1.0","T":${at},"m":true}`;
    case 'oversized_frame':
      // Not a trade: a trade could never be this large.
      return wrap(`{"e":"kline","E":${at},"s":"${first.symbol}","x":"${context.padding()}"}`);
    case 'implausible_time':
      // 1970: before Binance existed.
      return wrap(
        `{"e":"trade","E":${at},"s":"${first.symbol}","t":1,"p":"1.0","q":"1.0","T":86400000,"m":true}`,
      );
  }
}

/** Options of {@link FaultInjector}. */
export interface FaultInjectorOptions {
  readonly market: Market;
  readonly streams: StreamFaultTarget;
  readonly now: () => number;
  readonly logger: Logger;
  /** Size in bytes of the `oversized_frame` malformed frame. */
  readonly oversizedFrameBytes: number;
  /** The random schedule's rates, per minute (see {@link planFaults}). */
  readonly rates?: Partial<Record<SimFaultKind, number>>;
  /** The random schedule's draws. */
  readonly random: () => number;
}

/**
 * Every fault the simulator can inject, and the one owner of the faults
 * that wait for a request or an event: refused upgrades, failing, withheld,
 * lying and hanging REST answers, dropped depth events. The WebSocket server
 * and the REST handler ask it ({@link refusal}, {@link takeRestFailure},
 * {@link isWithheld}, {@link takeLie}, {@link hang}, {@link takeDepthDrop});
 * the other stream faults act at once through the WebSocket server and the
 * market.
 *
 * @example
 * ```ts
 * const faults = new FaultInjector({ market, streams, now: Date.now, logger, oversizedFrameBytes: 2 << 20, random });
 * faults.failRest(1, 418, 60);
 * faults.takeRestFailure(); // { status: 418, retryAfterSeconds: 60 }
 * faults.takeRestFailure(); // undefined
 * ```
 */
export class FaultInjector {
  private refuseUntil = 0;
  private refusalOptions: RefuseConnectionsOptions = {};
  private restFailures = { count: 0, status: 500, retryAfterSeconds: 1 };
  private lies: { count: number; kind: RestLieKind } = { count: 0, kind: 'too_many_rows' };
  private hangUntil = 0;
  private hangAfterHeaders = false;
  private readonly withheld = new Map<string, { fromId: number; toId: number }[]>();
  private readonly depthDrops = new Map<string, number>();
  private oversizedPadding = '';

  constructor(private readonly options: FaultInjectorOptions) {}

  /** Injects the faults of one second of the random schedule. */
  tick(): void {
    for (const fault of planFaults(this.options.rates ?? {}, this.options.random)) {
      this.options.logger.info({ fault: fault.kind }, 'sim: injecting fault');
      if (fault.kind === 'drop') this.drop();
      else if (fault.kind === 'stall') this.stall(fault.ms);
      else if (fault.kind === 'gap') this.gap(fault.count);
      else if (fault.kind === 'duplicate') this.duplicate(fault.count);
      else if (fault.kind === 'malformed') this.malformed(fault.malformed);
      else if (fault.kind === 'serverShutdown') this.serverShutdown();
      else if (fault.kind === 'dropDepthDiff') this.dropDepthDiff();
      else this.refuseConnections(fault.ms);
    }
  }

  // ---- stream faults, at once ----------------------------------------------

  /** Closes every connection abruptly. See `BinanceSimulator.drop`. */
  drop(): void {
    this.options.streams.dropAll();
  }

  /** Connections go half-open for `ms`. See `BinanceSimulator.stall`. */
  stall(ms: number): void {
    this.options.streams.silence(this.options.now() + ms);
  }

  /** Makes `count` trades of `symbol` (default: each) that no stream sends. */
  gap(count = 5, symbol?: string): void {
    const { market, now } = this.options;
    const at = now();
    for (const state of market.resolve(symbol)) {
      for (let i = 0; i < count; i++) market.trade(state, at);
    }
  }

  /** Sends the newest `count` trades of `symbol` (default: each) again. */
  duplicate(count = 1, symbol?: string): void {
    const { market, streams } = this.options;
    for (const state of market.resolve(symbol)) {
      const last = state.history.nextId - 1;
      for (let id = Math.max(state.history.oldestId, last - count + 1); id <= last; id++) {
        streams.broadcast(state, id);
      }
    }
    streams.flushAll();
  }

  /** Sends one malformed frame of `kind` to every connection (see {@link malformedFrame}). */
  malformed(kind: MalformedKind = 'invalid_json'): void {
    const symbols = this.options.market.symbols;
    const first = symbols[0]!;
    const other = symbols[1] ?? first;
    const at = this.options.now();
    const padding = () => (this.oversizedPadding ||= 'x'.repeat(this.options.oversizedFrameBytes));
    this.options.streams.sendEach(({ combined }) =>
      malformedFrame(kind, { combined, first, other, at, padding }),
    );
  }

  /** Sends `serverShutdown`, and closes every connection `closeAfterMs` later. */
  serverShutdown(closeAfterMs = 1000): void {
    this.options.streams.shutdown(closeAfterMs);
  }

  /** Sends a trade of `symbol` with id `id` that the market never made. */
  bogusTrade(symbol: string, id: number): void {
    const { market, streams, now } = this.options;
    const state = market.resolve(symbol)[0]!;
    if (!(Number.isSafeInteger(id) && id >= 0)) {
      throw new InvalidInputError('id', id, 'a trade id (a safe integer >= 0)');
    }
    streams.broadcastTrade(state, market.fabricate(state, id, 1, now())[0]!);
    streams.flushAll();
  }

  // ---- faults that wait for a request or an event ---------------------------

  /**
   * The next `count` depth events of `symbol` (default: of each symbol) are
   * not sent, though its book moves on: a subscriber sees `U` jump past its
   * last `u` + 1 (see {@link takeDepthDrop}). Calls add up.
   */
  dropDepthDiff(symbol?: string, count = 1): void {
    if (!(Number.isSafeInteger(count) && count >= 0)) {
      throw new InvalidInputError('count', count, 'an integer >= 0');
    }
    for (const state of this.options.market.resolve(symbol)) {
      this.depthDrops.set(state.symbol, (this.depthDrops.get(state.symbol) ?? 0) + count);
    }
  }

  /** Whether the depth event of `symbol` about to go out is dropped: uses up one of {@link dropDepthDiff}'s. */
  takeDepthDrop(symbol: string): boolean {
    const left = this.depthDrops.get(symbol) ?? 0;
    if (left <= 0) return false;
    this.depthDrops.set(symbol, left - 1);
    return true;
  }

  /** Upgrades arriving in the next `ms` are refused as `options` say (see {@link refusal}). */
  refuseConnections(ms: number, options: RefuseConnectionsOptions = {}): void {
    this.refuseUntil = this.options.now() + ms;
    this.refusalOptions = options;
  }

  /** How to refuse an upgrade arriving at `at`, or `undefined` to let it through. */
  refusal(at: number): RefuseConnectionsOptions | undefined {
    return at < this.refuseUntil ? this.refusalOptions : undefined;
  }

  /** The next `count` REST requests fail with `status` (see {@link takeRestFailure}); replaces an earlier call. */
  failRest(count: number, status = 500, retryAfterSeconds = 1): void {
    this.restFailures = { count, status, retryAfterSeconds };
  }

  /** Uses up one of the failures {@link failRest} asked for, if any is left. */
  takeRestFailure(): { status: number; retryAfterSeconds: number } | undefined {
    if (this.restFailures.count <= 0) return undefined;
    this.restFailures.count--;
    return {
      status: this.restFailures.status,
      retryAfterSeconds: this.restFailures.retryAfterSeconds,
    };
  }

  /** Withholds ids `fromId`..`toId` of `symbol` from REST (see {@link isWithheld}); calls add up. */
  refuseHistory(symbol: string, fromId: number, toId: number): void {
    const state = this.options.market.resolve(symbol)[0]!;
    if (!(Number.isSafeInteger(fromId) && Number.isSafeInteger(toId) && fromId <= toId)) {
      throw new InvalidInputError('fromId..toId', [fromId, toId], 'two trade ids, fromId <= toId');
    }
    const ranges = this.withheld.get(state.symbol) ?? [];
    this.withheld.set(state.symbol, [...ranges, { fromId, toId }]);
  }

  /** Whether an answer holding ids `first`..`last` of `symbol` would show a withheld id. */
  isWithheld(symbol: string, first: number, last: number): boolean {
    return (this.withheld.get(symbol) ?? []).some((r) => r.fromId <= last && r.toId >= first);
  }

  /** The next `count` REST trade answers lie as `kind` (see {@link takeLie}); replaces an earlier call. */
  lieRest(count: number, kind: RestLieKind): void {
    if (!REST_LIE_KINDS.includes(kind)) {
      throw new InvalidInputError('kind', kind, `one of ${REST_LIE_KINDS.join(', ')}`);
    }
    this.lies = { count, kind };
  }

  /** Uses up one of the lies {@link lieRest} asked for: its kind, if any is left. */
  takeLie(): RestLieKind | undefined {
    if (this.lies.count <= 0) return undefined;
    this.lies.count--;
    return this.lies.kind;
  }

  /** REST requests arriving in the next `ms` are held until then (see {@link hang}). */
  hangRest(ms: number, options: { afterHeaders?: boolean } = {}): void {
    this.hangUntil = this.options.now() + ms;
    this.hangAfterHeaders = options.afterHeaders ?? false;
  }

  /** Whether a REST request arriving at `at` hangs: until when, and whether its headers go first. */
  hang(at: number): { until: number; afterHeaders: boolean } | undefined {
    return at < this.hangUntil
      ? { until: this.hangUntil, afterHeaders: this.hangAfterHeaders }
      : undefined;
  }
}
