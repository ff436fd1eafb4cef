import type { BackoffOptions, Logger } from '@trade/core';
import type { RecordCodec } from './record-spool.js';
import type { CorruptSpoolRecord } from './spool-quarantine.js';

/** A row the database would not take, and why. */
export interface RejectedRecord<T> {
  readonly row: T;
  /** The field that was wrong or the database's message. */
  readonly reason: string;
}

/** What one insert did with its rows: the shape of the quote and book repositories' results. */
export interface RecordInsertResult<T> {
  /** Rows written. */
  readonly inserted: number;
  /** Rows already stored (same key), or repeated within the batch. */
  readonly duplicates: number;
  /** Rows refused (data errors); the rest of the batch was stored regardless. */
  readonly rejected: readonly RejectedRecord<T>[];
}

/** Options of {@link RecordRecorder.start}. */
export interface RecordRecorderOptions<T> {
  /**
   * Stores a batch, each key once, and reports refused rows in `rejected`;
   * throws when the database cannot be reached (nothing or everything written).
   */
  insert: (rows: readonly T[]) => Promise<RecordInsertResult<T>>;
  /** How a row is written to the spool and read back. */
  codec: RecordCodec<T>;
  /** Directory of the spool segments, `rejected.jsonl` and `quarantine/`; created if needed. */
  spoolDir: string;
  /** Names the spool's segment files (`<name>-<seq>.spool`) and prefixes log lines. Default `records`. */
  name?: string;
  /** The key of the refused row in each `rejected.jsonl` line. Default `row`. */
  rejectedField?: string;
  /** Rows per insert. Default 5000. */
  batchSize?: number;
  /** A batch not full is written this long after its first row. Default 250 ms. */
  flushIntervalMs?: number;
  /** Retries of a failed insert before its batch goes to the spool. Default 3. */
  maxRetries?: number;
  /** Delays between retries, of inserts, of spool replays and of failed appends. Default 100 ms growing to 5 s. */
  retry?: BackoffOptions;
  /**
   * Rows held in memory; beyond it batches go to the spool. When the spool
   * cannot be written either, rows offered past it are dropped (counted in
   * `lost`). Default 100,000.
   */
  maxBuffered?: number;
  /** A spool segment file is closed and a new one started past this size. Default 8 MiB. */
  segmentBytes?: number;
  /** `rejected.jsonl` is rotated before it would pass this size. Default 16 MiB. */
  rejectedFileBytes?: number;
  /** Rotated `rejected.<n>.jsonl` files kept. Default 3. */
  rejectedFilesKept?: number;
  logger?: Logger;
  /** Called for each damaged spool record set aside in `quarantine/`. */
  onCorruptRecord?: (record: CorruptSpoolRecord) => void;
}

/** Counters of a {@link RecordRecorder}, since it started. */
export interface RecordRecorderStats {
  /** Rows taken by `offer()`. */
  readonly accepted: number;
  /** Rows the database wrote (replayed ones included). */
  readonly stored: number;
  /** Rows the database already held. */
  readonly duplicates: number;
  /** Rows the database refused, kept in `rejected.jsonl`. */
  readonly rejected: number;
  /** Rows appended to the spool. */
  readonly spooled: number;
  /** Rows replayed from the spool into the database. */
  readonly replayed: number;
  /** Rows in memory, neither in the database nor in the spool yet. */
  readonly buffered: number;
  /** Rows in the spool, those of an earlier run included. */
  readonly spoolRows: number;
  /** Damaged spool records set aside in `quarantine/`. */
  readonly corruptRecords: number;
  /** Rows neither the database nor the disk took: dropped by `offer()` while blocked, or left at close. */
  readonly lost: number;
}

/** Whether a {@link RecordRecorder} takes rows. */
export interface RecordRecorderHealth {
  /** Neither the database nor the spool takes rows and `maxBuffered` rows wait: new rows are dropped. */
  readonly blocked: boolean;
  /** Why, when blocked. */
  readonly reason?: string;
  /** The last failed insert's error, while inserts fail. */
  readonly databaseError?: string;
  /** The last failed append's error, while appends fail. */
  readonly spoolError?: string;
}

/** What {@link RecordRecorder.close} could not keep. */
export interface RecordRecorderCloseResult {
  /** Rows neither stored nor spooled, over the recorder's life (see {@link RecordRecorderStats.lost}). */
  readonly lost: number;
}
