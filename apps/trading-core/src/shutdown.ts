import { constants } from 'node:os';
import type { Logger } from 'pino';

/** A pending stop request. */
export interface Shutdown {
  /** Resolves on the first stopping signal. */
  readonly requested: Promise<void>;
  /** Aborted on the first stopping signal, for work that takes a signal. */
  readonly signal: AbortSignal;
}

/**
 * Signals that end a Node process by default, apart from SIGKILL and SIGSTOP
 * (which cannot be caught): each one asks for a graceful stop instead, so
 * every buffered tick is flushed first. SIGHUP (a closed terminal, or an
 * operator's reload habit) included.
 */
export const STOP_SIGNALS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR2',
  'SIGALRM',
] as const satisfies readonly NodeJS.Signals[];

/**
 * The first stopping signal asks for a graceful stop; a second one exits at
 * once (128 + the signal's number, e.g. 130 for SIGINT, 143 for SIGTERM)
 * without flushing.
 */
export function onShutdown(logger: Logger): Shutdown {
  const abort = new AbortController();
  const requested = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutdown requested; a second signal exits at once');
      for (const s of STOP_SIGNALS) {
        process.off(s, onSignal);
        process.once(s, () => process.exit(128 + constants.signals[s]));
      }
      abort.abort(new Error(`${signal} received`));
      resolve();
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
  return { requested, signal: abort.signal };
}
