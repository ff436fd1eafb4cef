import type { SimRequestLogEntry } from './simulator-types.js';

/** Entries a log lists: the newest this many. */
export const LOG_LIMIT = 10_000;

/**
 * The requests one side of the simulator answered (REST, or WebSocket
 * upgrades), oldest first. Trimmed as it grows so a long-running simulator
 * keeps only about the newest {@link LOG_LIMIT}.
 */
export class RequestLog {
  private readonly entries: SimRequestLogEntry[] = [];

  /** Appends `entry`, trimming the oldest past twice the limit. */
  add(entry: SimRequestLogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > LOG_LIMIT * 2) {
      this.entries.splice(0, this.entries.length - LOG_LIMIT);
    }
  }

  /** The newest {@link LOG_LIMIT} entries, oldest first. */
  list(): SimRequestLogEntry[] {
    return this.entries.slice(-LOG_LIMIT);
  }
}
