/**
 * Wakes one waiting loop. A wake while nobody waits is kept for the next
 * {@link wait}, so a loop that checked its work and then waits never
 * sleeps through the event that brought more.
 */
export class Wake {
  #resolve: (() => void) | undefined;
  #pending = false;

  wait(): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.#resolve = resolve));
  }

  wake(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    if (resolve) resolve();
    else this.#pending = true;
  }
}
