/** Why a book that was in sync stopped being trusted. */
export type ResyncReason =
  /** A diff's `U` is beyond the book's update id + 1: diffs were missed. */
  | 'gap'
  /** A diff that is not one (bad ids, a malformed level): its changes are unknown. */
  | 'invalid_diff'
  /** After a diff the best bid is at or above the best ask. */
  | 'crossed_book';

/** Where and why the book was lost. */
export interface BookLoss {
  readonly reason: ResyncReason;
  /** The book's update id when it was lost. */
  readonly bookUpdateId: number;
  /** `U` of the diff that showed it, when it had one. */
  readonly firstUpdateId: number | undefined;
  /** `u` of the diff that showed it, when it had one. */
  readonly finalUpdateId: number | undefined;
  readonly detail: string;
}

/** What a {@link DepthSync} reports, in order, through `onEvent`. */
export type DepthSyncEvent =
  /** In sync for the first time (not a resync). */
  | {
      readonly kind: 'synced';
      readonly symbol: string;
      readonly updateId: number;
      readonly snapshotUpdateId: number;
      /** Buffered diffs applied on top of the snapshot. */
      readonly replayed: number;
    }
  /** In sync again after a loss: what `trading_book_resyncs_total` counts. */
  | {
      readonly kind: 'resynced';
      readonly symbol: string;
      readonly updateId: number;
      readonly snapshotUpdateId: number;
      readonly replayed: number;
      readonly lost: BookLoss;
    }
  /** The book is no longer trusted; a resync has begun. */
  | { readonly kind: 'desynced'; readonly symbol: string; readonly lost: BookLoss }
  /**
   * A diff applied (also each buffered diff replayed onto a snapshot, just
   * before `synced`/`resynced`): what `trading_book_updates_total` counts.
   */
  | {
      readonly kind: 'diff_applied';
      readonly symbol: string;
      readonly updateId: number;
      readonly levelChanges: number;
    }
  /** A diff older than the book (`u` < the book's update id), ignored. */
  | {
      readonly kind: 'diff_ignored';
      readonly symbol: string;
      readonly finalUpdateId: number;
      readonly bookUpdateId: number;
    }
  /** Not a diff of this symbol (another symbol, ids that are not safe integers, `U` > `u`). */
  | { readonly kind: 'diff_rejected'; readonly symbol: string; readonly detail: string }
  /** The snapshot is older than the first buffered diff: another is taken after `retryInMs`. */
  | {
      readonly kind: 'snapshot_stale';
      readonly symbol: string;
      readonly lastUpdateId: number;
      readonly firstUpdateId: number;
      readonly retryInMs: number;
    }
  /** The snapshot request failed, or its answer was refused: retried after `retryInMs`. */
  | {
      readonly kind: 'snapshot_failed';
      readonly symbol: string;
      readonly error: string;
      /** Failures in a row. */
      readonly failures: number;
      readonly retryInMs: number;
    };

/** Counters of a {@link DepthSync}. */
export interface DepthSyncStats {
  readonly inSync: boolean;
  /** The book's update id while in sync. */
  readonly updateId: number | undefined;
  readonly buffered: number;
  /** First syncs: 0 or 1. */
  readonly syncs: number;
  readonly resyncs: number;
  readonly diffsApplied: number;
  readonly levelChanges: number;
  readonly diffsIgnored: number;
  readonly diffsRejected: number;
  /** Buffered diffs at or below a snapshot's `lastUpdateId`, dropped as the procedure says. */
  readonly diffsDropped: number;
  /** Buffered diffs dropped because the buffer was full. */
  readonly bufferOverflows: number;
  readonly snapshotRequests: number;
  readonly snapshotFailures: number;
  readonly staleSnapshots: number;
}
