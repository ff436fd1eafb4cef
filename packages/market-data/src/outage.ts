// While the database or the disk keeps failing, a reminder is logged this often.
const OUTAGE_REMINDER_MS = 60_000;

/**
 * Failures of one dependency (the disk, the database) since it last
 * worked: what to log when, so an outage gives a line when it starts,
 * one every {@link OUTAGE_REMINDER_MS} while it lasts, and one when it
 * ends, whatever the number of attempts.
 */
export class Outage {
  #since: number | undefined;
  #failures = 0;
  #lastReport = 0;
  #message: string | undefined;

  get failing(): boolean {
    return this.#since !== undefined;
  }

  /** The last error's message while failing. */
  get message(): string | undefined {
    return this.#message;
  }

  /** Notes a failure; says whether (and how) to log it. */
  fail(error: unknown): { first: boolean; failures: number; sinceMs: number } | undefined {
    const now = Date.now();
    this.#failures += 1;
    this.#message = error instanceof Error ? error.message : String(error);
    const first = this.#since === undefined;
    this.#since ??= now;
    if (!first && now - this.#lastReport < OUTAGE_REMINDER_MS) return undefined;
    this.#lastReport = now;
    return { first, failures: this.#failures, sinceMs: now - this.#since };
  }

  /** Notes a success; says how long the outage lasted when one ends. */
  recover(): { failures: number; sinceMs: number } | undefined {
    if (this.#since === undefined) return undefined;
    const ended = { failures: this.#failures, sinceMs: Date.now() - this.#since };
    this.#since = undefined;
    this.#failures = 0;
    this.#message = undefined;
    return ended;
  }
}
