/**
 * One clock read per burst of frames (one socket read): frames that arrived
 * together share a receive time, and the clock is not read per frame.
 */
export class BurstClock {
  private at = 0;
  private readonly end = () => {
    this.at = 0;
  };

  constructor(private readonly now: () => number) {}

  /** The time of the current burst, read from the clock on its first frame. */
  read(): number {
    let at = this.at;
    if (at === 0) {
      at = this.at = this.now();
      queueMicrotask(this.end);
    }
    return at;
  }
}
