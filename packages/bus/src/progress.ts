/**
 * Those waiting for something to move (an ack came, the mode changed, the
 * connection came back), woken all at once.
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

  /** Resolves at the next {@link notify}, or after `timeoutMs` when given. */
  next(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (timeoutMs === undefined) {
        this.#waiters.push(resolve);
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        const index = this.#waiters.indexOf(done);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.push(done);
    });
  }
}
