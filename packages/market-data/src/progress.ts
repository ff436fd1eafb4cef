/**
 * Those waiting for something to move (a write ended, a batch left the disk
 * queue, the writer loop turned), woken all at once.
 *
 * @example
 * ```ts
 * while (busy()) await progress.next();
 * // elsewhere, once something moved:
 * progress.notify();
 * ```
 */
export class Progress {
  #waiters: (() => void)[] = [];

  /** Wakes everyone waiting now. */
  notify(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Resolves at the next {@link notify}. */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
