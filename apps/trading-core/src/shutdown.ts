import type { Logger } from 'pino';

/** A pending stop request. */
export interface Shutdown {
  /** Resolves on the first SIGINT or SIGTERM. */
  readonly requested: Promise<void>;
}

/**
 * The first SIGINT/SIGTERM asks for a graceful stop; a second one exits at
 * once (130 for SIGINT, 143 for SIGTERM) without flushing.
 */
export function onShutdown(logger: Logger): Shutdown {
  const requested = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutdown requested; a second signal exits at once');
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
  return { requested };
}
