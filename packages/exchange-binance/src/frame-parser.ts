import { MIN_PLAUSIBLE_TRADE_TIME, type Tick } from '@trade/core';
import {
  MAX_FRAME_BYTES,
  parseFrameText,
  type FrameResult,
  type TradeStreamType,
} from './parse-frame.js';
import { makeTick, rejectTrade } from './trade-fields.js';

// Byte values used by the fast path.
const QUOTE = 0x22;
const COMMA = 0x2c;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const CLOSE_BRACE = 0x7d;
const AT = 0x40;

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

const COMBINED_PREFIX = ascii('{"stream":"');
const RAW_PREFIX = ascii('{"e":"');

interface Layout {
  readonly event: Uint8Array; // e.g. `trade","E":`
  readonly afterEventTime: Uint8Array; // `,"s":"`
  readonly afterSymbol: Uint8Array; // `","t":`
  readonly afterId: Uint8Array; // `,"p":"`
  readonly afterPrice: Uint8Array; // `","q":"`
  readonly streamSuffix: Uint8Array; // `@trade","data":{"e":"`
}

function layout(type: TradeStreamType): Layout {
  return {
    event: ascii(`${type}","E":`),
    afterEventTime: ascii(',"s":"'),
    afterSymbol: ascii(type === 'trade' ? '","t":' : '","a":'),
    afterId: ascii(',"p":"'),
    afterPrice: ascii('","q":"'),
    streamSuffix: ascii(`@${type}","data":{"e":"`),
  };
}

/**
 * Turns frames into {@link FrameResult}s. Frames in Binance's own layout
 * (combined or raw, `trade` with or without `b`/`a`, or `aggTrade`) are read
 * straight from the bytes without `JSON.parse`; anything else, including any
 * frame the fast path is not sure of, goes through {@link parseFrameText}, so
 * both give the same answer.
 *
 * @example
 * ```ts
 * const parser = new FrameParser('trade');
 * ws.on('message', (data: Buffer) => { const r = parser.parse(data, Date.now()); });
 * ```
 */
export class FrameParser {
  readonly streamType: TradeStreamType;
  private readonly layout: Layout;
  /** Frames read by the fast path and by the full parser, for diagnostics. */
  fastPathHits = 0;
  fullParses = 0;

  /** Known symbols by a hash of their bytes, so ticks share one string per symbol. */
  private readonly known = new Map<number, { symbol: string; bytes: Uint8Array }[]>();

  /**
   * @param streamType which event the frames carry
   * @param symbols symbols expected in frames: their ticks reuse one string
   *   each instead of a new one per frame (others still parse)
   */
  constructor(streamType: TradeStreamType = 'trade', symbols: readonly string[] = []) {
    this.streamType = streamType;
    this.layout = layout(streamType);
    for (const symbol of symbols) {
      const bytes = ascii(symbol);
      const hash = hashBytes(bytes, 0, bytes.length);
      const bucket = this.known.get(hash) ?? [];
      bucket.push({ symbol, bytes });
      this.known.set(hash, bucket);
    }
  }

  private symbolAt(b: Buffer, start: number, end: number, hash: number): string {
    const bucket = this.known.get(hash);
    if (bucket !== undefined) {
      for (const entry of bucket) {
        const bytes = entry.bytes;
        if (bytes.length !== end - start) continue;
        let k = 0;
        while (k < bytes.length && bytes[k] === b[start + k]) k++;
        if (k === bytes.length) return entry.symbol;
      }
    }
    return (b as LatinSliceable).latin1Slice(start, end);
  }

  /** Parses one frame: a Buffer as `ws` delivers it, or a string. */
  parse(data: Buffer | string, receiveTime: number): FrameResult {
    if (typeof data !== 'string') {
      const tick = this.fast(data, receiveTime);
      if (tick !== undefined) {
        this.fastPathHits++;
        return { kind: 'tick', tick };
      }
    }
    const oversized = this.oversized(data);
    if (oversized !== undefined) return oversized;
    this.fullParses++;
    return parseFrameText(
      typeof data === 'string' ? data : data.toString('utf8'),
      this.streamType,
      receiveTime,
    );
  }

  /**
   * Like {@link parse} but returns the tick itself on the fast path, and a
   * {@link FrameResult} otherwise; saves an allocation per trade.
   */
  parseFast(data: Buffer, receiveTime: number): Tick | FrameResult {
    const tick = this.fast(data, receiveTime);
    if (tick !== undefined) {
      this.fastPathHits++;
      return tick;
    }
    const oversized = this.oversized(data);
    if (oversized !== undefined) return oversized;
    this.fullParses++;
    return parseFrameText(data.toString('utf8'), this.streamType, receiveTime);
  }

  /**
   * Checked only off the fast path: a frame the fast path accepts is a few
   * hundred bytes at most (every field it reads is bounded).
   */
  private oversized(data: Buffer | string): FrameResult | undefined {
    return data.length > MAX_FRAME_BYTES
      ? rejectTrade('oversized_frame', `${data.length} bytes, more than ${MAX_FRAME_BYTES}`)
      : undefined;
  }

  /** The tick when `b` is exactly Binance's layout and every field is valid; `undefined` to fall back. */
  fast(b: Buffer, receiveTime: number): Tick | undefined {
    const L = this.layout;
    const end = b.length;
    let i: number;
    let streamStart = -1;
    let streamEnd = -1;
    let wrapped: boolean;
    if (match(b, 0, COMBINED_PREFIX)) {
      wrapped = true;
      i = COMBINED_PREFIX.length;
      streamStart = i;
      while (i < end && b[i] !== AT) {
        const c = b[i]!;
        if (!((c >= 0x61 && c <= 0x7a) || (c >= ZERO && c <= NINE))) return undefined;
        i++;
      }
      streamEnd = i;
      if (!match(b, i, L.streamSuffix)) return undefined;
      i += L.streamSuffix.length;
    } else if (match(b, 0, RAW_PREFIX)) {
      wrapped = false;
      i = RAW_PREFIX.length;
    } else {
      return undefined;
    }
    if (!match(b, i, L.event)) return undefined;
    i += L.event.length;
    i = skipInt(b, i);
    if (i < 0 || !match(b, i, L.afterEventTime)) return undefined;
    i += L.afterEventTime.length;

    const symbolStart = i;
    let hash = 0;
    while (i < end) {
      const c = b[i]!;
      if (!((c >= 0x41 && c <= 0x5a) || (c >= ZERO && c <= NINE))) break;
      hash = (Math.imul(hash, 31) + c) | 0;
      i++;
    }
    const symbolEnd = i;
    const symbolLength = symbolEnd - symbolStart;
    if (symbolLength < 2 || symbolLength > 30) return undefined;
    if (wrapped) {
      if (streamEnd - streamStart !== symbolLength) return undefined;
      for (let k = 0; k < symbolLength; k++) {
        const s = b[symbolStart + k]!;
        if (b[streamStart + k] !== (s >= 0x41 ? s + 32 : s)) return undefined;
      }
    }
    if (!match(b, i, L.afterSymbol)) return undefined;
    i += L.afterSymbol.length;

    i = skipInt(b, i);
    if (i < 0) return undefined;
    const tradeId = lastInt;
    if (tradeId < 0) return undefined;
    if (!match(b, i, L.afterId)) return undefined;
    i += L.afterId.length;

    const priceStart = i;
    i = skipPositiveDecimal(b, i);
    if (i < 0) return undefined;
    const priceEnd = i;
    if (!match(b, i, L.afterPrice)) return undefined;
    i += L.afterPrice.length;

    const quantityStart = i;
    i = skipPositiveDecimal(b, i);
    if (i < 0) return undefined;
    const quantityEnd = i;
    if (b[i] !== QUOTE || b[i + 1] !== COMMA || b[i + 2] !== QUOTE) return undefined;
    i += 3;

    // aggTrade: "f":..,"l":.. ; trade (older payloads): "b":..,"a":..
    if (this.streamType === 'aggTrade') {
      i = skipIntField(b, i, 0x66); // f
      if (i < 0) return undefined;
      i = skipIntField(b, i, 0x6c); // l
      if (i < 0) return undefined;
    } else if (b[i] === 0x62) {
      i = skipIntField(b, i, 0x62); // b
      if (i < 0) return undefined;
      i = skipIntField(b, i, 0x61); // a
      if (i < 0) return undefined;
    }
    if (b[i] !== 0x54 || b[i + 1] !== QUOTE || b[i + 2] !== COLON) return undefined; // T":
    i += 3;
    i = skipInt(b, i);
    if (i < 0) return undefined;
    const tradeTime = lastInt;
    // Negative means unsafe; too old is the full parser's to reject with its reason.
    if (tradeTime < MIN_PLAUSIBLE_TRADE_TIME) return undefined;
    // ,"m":true|false
    if (b[i] !== COMMA || b[i + 1] !== QUOTE || b[i + 2] !== 0x6d || b[i + 3] !== QUOTE) {
      return undefined;
    }
    if (b[i + 4] !== COLON) return undefined;
    i += 5;
    let isBuyerMaker: boolean;
    if (b[i] === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
      isBuyerMaker = true;
      i += 4;
    } else if (
      b[i] === 0x66 &&
      b[i + 1] === 0x61 &&
      b[i + 2] === 0x6c &&
      b[i + 3] === 0x73 &&
      b[i + 4] === 0x65
    ) {
      isBuyerMaker = false;
      i += 5;
    } else {
      return undefined;
    }
    // optional ,"M":true|false
    if (b[i] === COMMA) {
      if (b[i + 1] !== QUOTE || b[i + 2] !== 0x4d || b[i + 3] !== QUOTE || b[i + 4] !== COLON) {
        return undefined;
      }
      i += 5;
      if (b[i] === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) i += 4;
      else if (
        b[i] === 0x66 &&
        b[i + 1] === 0x61 &&
        b[i + 2] === 0x6c &&
        b[i + 3] === 0x73 &&
        b[i + 4] === 0x65
      )
        i += 5;
      else return undefined;
    }
    if (b[i] !== CLOSE_BRACE) return undefined;
    i++;
    if (wrapped) {
      if (b[i] !== CLOSE_BRACE) return undefined;
      i++;
    }
    if (i !== end) return undefined;

    // Node's internal slicer: the bytes are known ASCII, and it skips toString's argument checks.
    const bytes = b as LatinSliceable;
    return makeTick(
      this.symbolAt(b, symbolStart, symbolEnd, hash),
      tradeId,
      bytes.latin1Slice(priceStart, priceEnd),
      bytes.latin1Slice(quantityStart, quantityEnd),
      isBuyerMaker,
      tradeTime,
      receiveTime,
    );
  }
}

export type LatinSliceable = Buffer & { latin1Slice(start: number, end: number): string };

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0;
  for (let k = start; k < end; k++) hash = (Math.imul(hash, 31) + bytes[k]!) | 0;
  return hash;
}

/** Whether `b` holds `expected` at `at`. */
export function match(b: Buffer, at: number, expected: Uint8Array): boolean {
  if (at + expected.length > b.length) return false;
  for (let k = 0; k < expected.length; k++) if (b[at + k] !== expected[k]) return false;
  return true;
}

/** The value of the integer {@link skipInt} last read (a second return value without an allocation). */
let lastInt = 0;

/**
 * End of a JSON non-negative integer of at most 16 digits starting at `i`, or
 * -1; its value is left in {@link lastInt} (-1 when not a safe integer).
 */
export function skipInt(b: Buffer, i: number): number {
  const start = i;
  let c = b[i];
  if (c === undefined || c < ZERO || c > NINE) return -1;
  let n = c - ZERO;
  i++;
  c = b[i];
  if (n === 0) {
    if (c !== undefined && c >= ZERO && c <= NINE) return -1;
  } else {
    while (c !== undefined && c >= ZERO && c <= NINE) {
      n = n * 10 + (c - ZERO);
      c = b[++i];
    }
    if (i - start > 16) return -1;
  }
  // A fraction or exponent is valid JSON but not an integer field: let the full parser say so.
  if (c === DOT || c === 0x65 || c === 0x45) return -1;
  lastInt = Number.isSafeInteger(n) ? n : -1;
  return i;
}

/** `"x":<int>,` where x is `letter`; returns the index after the comma and quote of the next key, or -1. */
function skipIntField(b: Buffer, i: number, letter: number): number {
  if (b[i] !== letter || b[i + 1] !== QUOTE || b[i + 2] !== COLON) return -1;
  i = skipInt(b, i + 3);
  if (i < 0 || b[i] !== COMMA || b[i + 1] !== QUOTE) return -1;
  return i + 2;
}

/** The value the last {@link skipInt} read (-1 when not a safe integer). */
export function lastIntRead(): number {
  return lastInt;
}

/** End of a decimal string greater than zero (`0|[1-9]\d*` then optional `.\d+`, at most 64 chars), or -1. */
export function skipPositiveDecimal(b: Buffer, i: number): number {
  const start = i;
  let nonZero = false;
  const first = b[i];
  if (first === undefined || first < ZERO || first > NINE) return -1;
  i++;
  if (first === ZERO) {
    const next = b[i];
    if (next !== undefined && next >= ZERO && next <= NINE) return -1;
  } else {
    nonZero = true;
    while (i < b.length) {
      const c = b[i]!;
      if (c < ZERO || c > NINE) break;
      i++;
    }
  }
  if (b[i] === DOT) {
    i++;
    const fractionStart = i;
    while (i < b.length) {
      const c = b[i]!;
      if (c < ZERO || c > NINE) break;
      if (c !== ZERO) nonZero = true;
      i++;
    }
    if (i === fractionStart) return -1;
  }
  if (!nonZero || i - start > 64) return -1;
  return i;
}
