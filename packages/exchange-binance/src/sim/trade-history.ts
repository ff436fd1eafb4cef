/** One trade the simulator generated: its ground truth. */
export interface SimTrade {
  readonly symbol: string;
  readonly id: number;
  /** Decimal string with 8 decimals, as Binance writes it. */
  readonly price: string;
  readonly quantity: string;
  /** Trade time `T`, milliseconds since the epoch. */
  readonly time: number;
  readonly isBuyerMaker: boolean;
}

/** Price in hundredths as Binance's 8-decimal string: 4325001 -> `"43250.01000000"`. */
export function formatPrice(cents: number): string {
  const whole = Math.floor(cents / 100);
  const fraction = cents - whole * 100;
  return `${whole}.${fraction < 10 ? '0' : ''}${fraction}000000`;
}

/** Quantity in 1e-8 units as Binance's 8-decimal string: 123000 -> `"0.00123000"`. */
export function formatQuantity(units: number): string {
  const whole = Math.floor(units / 1e8);
  const fraction = String(units - whole * 1e8);
  return `${whole}.${'00000000'.slice(fraction.length)}${fraction}`;
}

/**
 * The trades of one symbol, in id order, kept in columns (about 25 bytes a
 * trade) and trimmed to the newest `retain`. Ids are consecutive from the
 * first retained one.
 */
export class TradeHistory {
  private readonly times: number[] = [];
  private readonly prices: number[] = [];
  private readonly quantities: number[] = [];
  private readonly makers: boolean[] = [];
  /** Index in the columns of the oldest retained trade (trimmed lazily). */
  private head = 0;
  /** Id of the trade at column index 0. */
  private baseId: number;

  constructor(
    readonly symbol: string,
    firstId: number,
    private readonly retain: number,
  ) {
    this.baseId = firstId;
  }

  /** Id the next trade will get. */
  get nextId(): number {
    return this.baseId + this.times.length;
  }

  /** Id of the oldest retained trade (equals {@link nextId} when none). */
  get oldestId(): number {
    return this.baseId + this.head;
  }

  /** How many trades are retained. */
  get size(): number {
    return this.times.length - this.head;
  }

  /** Appends a trade and returns its id. */
  push(time: number, priceCents: number, quantityUnits: number, isBuyerMaker: boolean): number {
    const id = this.nextId;
    this.times.push(time);
    this.prices.push(priceCents);
    this.quantities.push(quantityUnits);
    this.makers.push(isBuyerMaker);
    if (this.size > this.retain) {
      this.head = this.times.length - this.retain;
      if (this.head > 65536 && this.head > this.times.length / 2) this.compact();
    }
    return id;
  }

  private compact(): void {
    for (const column of [this.times, this.prices, this.quantities, this.makers]) {
      column.splice(0, this.head);
    }
    this.baseId += this.head;
    this.head = 0;
  }

  /** The retained trade with `id`, or `undefined`. */
  get(id: number): SimTrade | undefined {
    if (id < this.oldestId || id >= this.nextId) return undefined;
    const i = id - this.baseId;
    return {
      symbol: this.symbol,
      id,
      price: formatPrice(this.prices[i]!),
      quantity: formatQuantity(this.quantities[i]!),
      time: this.times[i]!,
      isBuyerMaker: this.makers[i]!,
    };
  }

  /** Up to `limit` retained trades from `fromId` (clamped to the oldest retained) in id order. */
  range(fromId: number, limit: number): SimTrade[] {
    const out: SimTrade[] = [];
    const end = Math.min(this.nextId, Math.max(fromId, this.oldestId) + limit);
    for (let id = Math.max(fromId, this.oldestId); id < end; id++) out.push(this.get(id)!);
    return out;
  }

  /** Every retained trade in id order. */
  all(): SimTrade[] {
    return this.range(this.oldestId, this.size);
  }
}
