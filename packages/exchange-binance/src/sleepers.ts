/**
 * Timed waits that can all be cut short at once: a REST ban or `close()`
 * wakes every backfill waiting for its next request.
 */
export class Sleepers {
  private readonly waiting = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closed = false;

  /** Resolves after `ms`, or at the next {@link wakeAll}; at once once closed. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const sleeper = {
        timer: setTimeout(() => {
          this.waiting.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      this.waiting.add(sleeper);
    });
  }

  /** Ends every wait now. */
  wakeAll(): void {
    for (const sleeper of this.waiting) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.waiting.clear();
  }

  /** Ends every wait, and every later one at once. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }
}
