import type { Logger } from 'pino';

/** A resource a command opened, closed at stop. */
export interface Resource {
  readonly name: string;
  readonly close: () => Promise<unknown>;
}

/**
 * Closes every resource, the newest first, emptying the list. A failure is
 * logged naming the resource, and the others are still closed.
 */
export async function closeAll(resources: Resource[], logger: Logger): Promise<void> {
  for (const { name, close } of resources.splice(0).reverse()) {
    await close().catch((error: unknown) =>
      logger.error({ err: error, resource: name }, `closing ${name} failed`),
    );
  }
}
