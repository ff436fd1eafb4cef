import { ConfigError, TradeError, silentLogger, type Logger, type Tick } from '@trade/core';
import { mkdir, open, readFile, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fromTuple, toTuple, type TickTuple } from './tick-rows.js';
import type { RejectedTick } from './tick-repository.js';

const SEGMENT = /^ticks-(\d{12})\.spool$/;
const REJECTED_FILE = 'rejected.jsonl';
const rotatedRejectedFile = (n: number) => `rejected.${n}.jsonl`;

/** Options of {@link TickSpool.open}. */
export interface TickSpoolOptions {
  /** A segment file is closed and a new one started past this size. Default 8 MiB. */
  segmentBytes?: number;
  /**
   * `rejected.jsonl` is rotated before an append would take it past this
   * size: it becomes `rejected.1.jsonl`, the older ones shift up. Default
   * 16 MiB.
   */
  rejectedFileBytes?: number;
  /**
   * Rotated files kept (`rejected.1.jsonl`...`rejected.<n>.jsonl`); the
   * oldest beyond is deleted. Disk use of refused ticks stays within about
   * `(n + 1) * rejectedFileBytes`. Default 3.
   */
  rejectedFilesKept?: number;
  logger?: Logger;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Highest trade id per symbol among the segment's ticks. */
  readonly highestIds: Map<string, number>;
}

interface Reader {
  readonly segment: Segment;
  readonly lines: string[];
  index: number;
}

/**
 * The durable spool of ticks the database has not taken yet: append-only
 * segment files in one directory, one batch per line (`<tick count> <JSON
 * array of tick tuples>`), each append fsync'd before it resolves. Batches are read back in
 * the order they were appended, across restarts; a segment is deleted once
 * every batch in it is acknowledged.
 *
 * A crash between a batch's insert and its acknowledgement replays that
 * segment again after restart: the repository's `ON CONFLICT DO NOTHING`
 * makes that harmless. A line torn by a crash mid-append was never
 * acknowledged to anyone and is skipped with a warning.
 *
 * One process per directory.
 */
export class TickSpool {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #logger: Logger;
  readonly #segments: Segment[];
  #nextSeq: number;
  #active: { segment: Segment; handle: FileHandle; size: number } | undefined;
  #reader: Reader | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pendingAppends = 0;
  #tickCount: number;
  readonly #rejectedFileBytes: number;
  readonly #rejectedFilesKept: number;
  #rejectedChain: Promise<unknown> = Promise.resolve();

  private constructor(
    dir: string,
    segments: Segment[],
    tickCount: number,
    options: TickSpoolOptions,
  ) {
    this.#dir = dir;
    this.#segments = segments;
    this.#tickCount = tickCount;
    this.#nextSeq = (segments.at(-1)?.seq ?? 0) + 1;
    this.#segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.#rejectedFileBytes = options.rejectedFileBytes ?? 16 * 1024 * 1024;
    this.#rejectedFilesKept = options.rejectedFilesKept ?? 3;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Opens (creating it if needed) the spool in `dir`; segments left by an earlier run are kept for replay. */
  static async open(dir: string, options: TickSpoolOptions = {}): Promise<TickSpool> {
    const { rejectedFileBytes, rejectedFilesKept } = options;
    if (rejectedFileBytes !== undefined && !(rejectedFileBytes > 0)) {
      throw new ConfigError('rejectedFileBytes', rejectedFileBytes, 'a positive number of bytes');
    }
    if (
      rejectedFilesKept !== undefined &&
      !(Number.isSafeInteger(rejectedFilesKept) && rejectedFilesKept >= 0)
    ) {
      throw new ConfigError('rejectedFilesKept', rejectedFilesKept, 'a non-negative integer');
    }
    await mkdir(dir, { recursive: true });
    const segments: Segment[] = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ seq: Number(m[1]), path: join(dir, m[0]), highestIds: new Map() }))
      .sort((a, b) => a.seq - b.seq);
    let tickCount = 0;
    for (const segment of segments) {
      for (const line of completeLines(await readFile(segment.path, 'utf8'))) {
        tickCount += declaredCount(line);
        // Unreadable records are skipped at replay too: they hold no tick.
        noteHighestIds(segment.highestIds, parseBatch(line) ?? []);
      }
    }
    return new TickSpool(dir, segments, tickCount, options);
  }

  /** True when no batch waits in the spool and no append is under way. */
  get isEmpty(): boolean {
    return this.#segments.length === 0 && this.#pendingAppends === 0;
  }

  /** Ticks in the spool not yet acknowledged, those left by an earlier run included. */
  get tickCount(): number {
    return this.#tickCount;
  }

  /** Segment files not yet fully replayed. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /**
   * The highest trade id of each symbol in the spool's segments, those left
   * by an earlier run included (read when the spool is opened). An upper
   * bound: a segment's ticks count until the whole segment is replayed and
   * deleted, so a value may belong to a tick already stored. A symbol is
   * absent when the spool holds none of its ticks. Where to resume the
   * exchange stream is the larger of this and the database's newest id.
   */
  highestTradeIds(): Map<string, number> {
    const highest = new Map<string, number>();
    for (const segment of this.#segments) {
      for (const [symbol, id] of segment.highestIds) {
        if (id > (highest.get(symbol) ?? -Infinity)) highest.set(symbol, id);
      }
    }
    return highest;
  }

  /** Appends one batch durably: resolves once it is fsync'd. */
  async append(ticks: readonly Tick[]): Promise<void> {
    if (ticks.length === 0) return;
    const line = `${ticks.length} ${JSON.stringify(ticks.map(toTuple))}\n`;
    this.#pendingAppends += 1;
    try {
      const segment = await this.#serial(() => this.#write(line));
      noteHighestIds(segment.highestIds, ticks);
      this.#tickCount += ticks.length;
    } finally {
      this.#pendingAppends -= 1;
    }
  }

  /**
   * The oldest batch not yet acknowledged, or `undefined` when the spool is
   * empty. The same batch comes back until {@link ack} is called.
   */
  async next(): Promise<Tick[] | undefined> {
    for (;;) {
      if (!this.#reader) {
        const oldest = this.#segments[0];
        if (!oldest) return undefined;
        if (this.#active?.segment === oldest) await this.#serial(() => this.#seal());
        const text = await readFile(oldest.path, 'utf8');
        const lines = completeLines(text);
        if (!text.endsWith('\n') && text.length > 0) {
          this.#logger.warn({ path: oldest.path }, 'spool: skipping a torn final record');
        }
        this.#reader = { segment: oldest, lines, index: 0 };
      }
      const reader = this.#reader;
      while (reader.index < reader.lines.length) {
        const line = reader.lines[reader.index]!;
        const ticks = parseBatch(line);
        if (ticks) return ticks;
        this.#logger.warn(
          { path: reader.segment.path, line: reader.index + 1 },
          'spool: skipping an unreadable record',
        );
        this.#tickCount -= declaredCount(line);
        reader.index += 1;
      }
      await this.#finishSegment();
    }
  }

  /** Marks the batch last returned by {@link next} as stored. */
  async ack(): Promise<void> {
    const reader = this.#reader;
    if (!reader) throw new TradeError('spool: ack without a batch read');
    this.#tickCount -= declaredCount(reader.lines[reader.index]!);
    reader.index += 1;
    if (reader.index >= reader.lines.length) await this.#finishSegment();
  }

  /**
   * Appends ticks the database refused to `rejected.jsonl` beside the
   * segments, fsync'd: refused, not lost. Before an append would take the
   * file past `rejectedFileBytes` it is rotated (see {@link TickSpoolOptions}).
   */
  appendRejected(rejected: readonly RejectedTick[]): Promise<void> {
    if (rejected.length === 0) return Promise.resolve();
    const text = rejected
      .map(
        (r) =>
          `${JSON.stringify({ at: new Date().toISOString(), reason: r.reason, tick: r.tick })}\n`,
      )
      .join('');
    // One at a time: two writers may record refusals together, and a
    // rotation must not rename the file under another append.
    const run = this.#rejectedChain.then(() => this.#writeRejected(text));
    this.#rejectedChain = run.catch(() => undefined);
    return run;
  }

  async #writeRejected(text: string): Promise<void> {
    const path = join(this.#dir, REJECTED_FILE);
    let handle = await open(path, 'a');
    try {
      const { size } = await handle.stat();
      if (size > 0 && size + Buffer.byteLength(text) > this.#rejectedFileBytes) {
        await handle.close();
        await this.#rotateRejected(size);
        handle = await open(path, 'a');
      }
      await handle.writeFile(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** rejected.jsonl -> rejected.1.jsonl -> ... -> rejected.<kept>.jsonl, whose old content goes. */
  async #rotateRejected(size: number): Promise<void> {
    const kept = this.#rejectedFilesKept;
    const at = (name: string) => join(this.#dir, name);
    if (kept === 0) {
      await unlink(at(REJECTED_FILE));
    } else {
      // Each rename replaces its target: the oldest kept file is overwritten.
      for (let n = kept - 1; n >= 1; n--) {
        await rename(at(rotatedRejectedFile(n)), at(rotatedRejectedFile(n + 1))).catch(
          ignoreMissing,
        );
      }
      await rename(at(REJECTED_FILE), at(rotatedRejectedFile(1)));
    }
    await syncDirectory(this.#dir);
    this.#logger.info(
      { dir: this.#dir, bytes: size, kept },
      kept > 0
        ? 'spool: rejected.jsonl rotated to rejected.1.jsonl; the oldest rotated file deleted'
        : 'spool: rejected.jsonl full; deleted (rejectedFilesKept is 0)',
    );
  }

  /** Resolves once every append started so far has finished. */
  async settled(): Promise<void> {
    await this.#serial(() => Promise.resolve());
  }

  /** Waits for appends under way and closes the open segment. */
  async close(): Promise<void> {
    await this.#serial(() => this.#seal());
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Writes `line` to the open segment (a new one when full); resolves with that segment. */
  async #write(line: string): Promise<Segment> {
    if (this.#active && this.#active.size >= this.#segmentBytes) await this.#seal();
    if (!this.#active) {
      const segment: Segment = {
        seq: this.#nextSeq,
        path: join(this.#dir, segmentName(this.#nextSeq)),
        highestIds: new Map(),
      };
      this.#nextSeq += 1;
      const handle = await open(segment.path, 'a');
      this.#active = { segment, handle, size: 0 };
      this.#segments.push(segment);
      await syncDirectory(this.#dir);
    }
    const active = this.#active;
    try {
      const { bytesWritten } = await active.handle.write(line);
      await active.handle.datasync();
      active.size += bytesWritten;
      return active.segment;
    } catch (error) {
      // A partial line may be on disk: start the next append in a new segment
      // so the torn record stays the last of this one.
      await this.#seal().catch(() => undefined);
      throw new TradeError(`spool: cannot append to ${active.segment.path}`, { cause: error });
    }
  }

  async #seal(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    await active?.handle.close();
  }

  async #finishSegment(): Promise<void> {
    const reader = this.#reader;
    if (!reader) return;
    this.#reader = undefined;
    await unlink(reader.segment.path).catch(ignoreMissing);
    this.#segments.splice(this.#segments.indexOf(reader.segment), 1);
    await syncDirectory(this.#dir);
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function noteHighestIds(highest: Map<string, number>, ticks: readonly Tick[]): void {
  for (const { symbol, tradeId } of ticks) {
    if (tradeId > (highest.get(symbol) ?? -Infinity)) highest.set(symbol, tradeId);
  }
}

function segmentName(seq: number): string {
  return `ticks-${String(seq).padStart(12, '0')}.spool`;
}

/** The lines that end with a newline: what follows the last one is a torn append, or nothing. */
function completeLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

/** The tick count a record declares (0 when unreadable). */
function declaredCount(line: string): number {
  const count = Number(line.slice(0, line.indexOf(' ')));
  return Number.isSafeInteger(count) && count > 0 ? count : 0;
}

/** The ticks of a record, or undefined when it is unreadable or its count does not match. */
function parseBatch(line: string): Tick[] | undefined {
  const space = line.indexOf(' ');
  try {
    const tuples = JSON.parse(line.slice(space + 1)) as unknown;
    if (!Array.isArray(tuples) || tuples.length !== declaredCount(line)) return undefined;
    return (tuples as TickTuple[]).map(fromTuple);
  } catch {
    return undefined;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
