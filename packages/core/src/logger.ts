/**
 * The logging calls the libraries make: pino's shape (`logger.warn({ symbol }, 'gap')`),
 * so a pino logger can be passed as it is.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const ignore = (): void => undefined;

/** A logger that drops everything: the default when none is passed. */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
