/** One point of a recorded series. */
export interface BacktestSample {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly value: number;
}

/**
 * Keeps a series of any length within `maxPoints`: the last value of each
 * time bucket, buckets `everyMs` wide at first (at least 1 ms), doubled
 * whenever the points would not fit. A doubled bucket holds exactly two of
 * the old ones, so merging keeps the last point of each; the first time seen
 * and the last point added are always kept. Widths only grow, so the
 * merging costs at most a few dozen passes over `maxPoints` points in all.
 */
export class SeriesSampler {
  private width: number;
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  private firstTime = Number.NaN;
  private firstValue = Number.NaN;
  private bucket = Number.NEGATIVE_INFINITY;
  private lastTime = Number.NEGATIVE_INFINITY;

  constructor(
    everyMs: number,
    private readonly maxPoints: number,
  ) {
    this.width = Math.max(1, everyMs);
  }

  /** Adds a point; a time before the last is taken as the last (series stay in order). */
  add(time: number, value: number): void {
    const t = time < this.lastTime ? this.lastTime : time;
    if (Number.isNaN(this.firstTime)) {
      this.firstTime = t;
      this.firstValue = value;
    }
    this.lastTime = t;
    const bucket = Math.floor(t / this.width);
    const n = this.times.length;
    if (bucket === this.bucket) {
      this.times[n - 1] = t;
      this.values[n - 1] = value;
      return;
    }
    this.times.push(t);
    this.values.push(value);
    this.bucket = bucket;
    if (this.size() > this.maxPoints) this.coarsen();
  }

  /** The points kept, in time order. */
  samples(): BacktestSample[] {
    const out: BacktestSample[] = [];
    // The first bucket's point is later than the first time seen once it took other points.
    const firstTime = this.times[0];
    if (firstTime !== undefined && firstTime > this.firstTime) {
      out.push({ time: this.firstTime, value: this.firstValue });
    }
    for (let i = 0; i < this.times.length; i++) {
      out.push({ time: this.times[i]!, value: this.values[i]! });
    }
    return out;
  }

  /** Points {@link samples} gives: the first time seen counts apart once its bucket took others. */
  private size(): number {
    const first = this.times[0];
    return this.times.length + (first !== undefined && first > this.firstTime ? 1 : 0);
  }

  private coarsen(): void {
    const { times, values } = this;
    while (this.size() > this.maxPoints) {
      this.width *= 2;
      let kept = 0;
      let previous = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < times.length; i++) {
        const bucket = Math.floor(times[i]! / this.width);
        if (bucket !== previous) {
          kept += 1;
          previous = bucket;
        }
        times[kept - 1] = times[i]!;
        values[kept - 1] = values[i]!;
      }
      times.length = kept;
      values.length = kept;
      this.bucket = previous;
    }
  }
}
