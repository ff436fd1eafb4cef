/** One time-ordered input of a replay, read one item ahead; see {@link timed}. */
export interface ReplayInput {
  /** Time of the item read ahead; meaningless once `done`. */
  readonly at: number;
  readonly done: boolean;
  /** Reads the next item ahead. */
  advance(): Promise<void>;
  /** Hands the item read ahead to its consumer. */
  deliver(): void;
  /** Releases the source (a database cursor) when the replay stops early. */
  close(): Promise<void>;
}

/** An input of {@link mergeByTime}: items of `source` in `time` order, each handed to `take`. */
export function timed<T>(
  source: AsyncIterable<T> | Iterable<T>,
  time: (item: T) => number,
  take: (item: T) => void,
): ReplayInput {
  return new Cursor(source, time, take);
}

class Cursor<T> implements ReplayInput {
  at = Number.POSITIVE_INFINITY;
  done = false;
  private item: T | undefined;
  private readonly iterator: Iterator<T> | AsyncIterator<T>;
  private readonly sync: boolean;

  constructor(
    source: AsyncIterable<T> | Iterable<T>,
    private readonly time: (item: T) => number,
    private readonly take: (item: T) => void,
  ) {
    this.sync = !(Symbol.asyncIterator in source);
    this.iterator = this.sync
      ? (source as Iterable<T>)[Symbol.iterator]()
      : (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  }

  async advance(): Promise<void> {
    const next = this.sync
      ? (this.iterator as Iterator<T>).next()
      : await (this.iterator as AsyncIterator<T>).next();
    if (next.done === true) {
      this.done = true;
      this.item = undefined;
      return;
    }
    this.item = next.value;
    this.at = this.time(next.value);
  }

  deliver(): void {
    this.take(this.item as T);
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.iterator.return?.();
  }
}

/**
 * Hands the items of `inputs` to their consumers in time order, each input
 * being in time order itself. At equal times the input listed first goes
 * first. Stops early, closing every input, when `signal` is aborted;
 * resolves with whether it was.
 */
export async function mergeByTime(
  inputs: readonly ReplayInput[],
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    for (const input of inputs) await input.advance();
    for (;;) {
      let next: ReplayInput | undefined;
      for (const input of inputs) {
        if (!input.done && (next === undefined || input.at < next.at)) next = input;
      }
      if (next === undefined) return false;
      if (signal?.aborted) return true;
      next.deliver();
      await next.advance();
    }
  } finally {
    await Promise.all(inputs.map((input) => input.close()));
  }
}
