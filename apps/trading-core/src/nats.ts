import { ensureTradeStream } from '@trade/bus';
import { TradeError } from '@trade/core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BusConfig } from './bus-config.js';

/** The app's connection to NATS and its JetStream manager. */
export interface Bus {
  /** The settings it was opened with. */
  readonly config: BusConfig;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /**
   * Resolves when JetStream answers for the stream (readiness): at most one
   * request a second however often it is asked, each bounded in time.
   */
  ping(): Promise<void>;
  /** Drains the connection (its subscriptions end, pending writes go out) and closes it. */
  close(): Promise<void>;
}

// Readiness answers from a result at most this old, and gives a request this long.
const PING_CACHE_MS = 1_000;
const PING_TIMEOUT_MS = 2_000;

/**
 * Connects to the servers of `config` and keeps reconnecting for ever: the
 * consumer and the publisher wait through an outage. A server unreachable
 * at start stops the app with a message naming `NATS_URL`.
 */
export async function connectBus(config: BusConfig, name: string, logger: Logger): Promise<Bus> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...config.servers],
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      timeout: 5_000,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TradeError(`NATS_URL: cannot connect to ${config.description}: ${reason}`, {
      cause: error,
    });
  }
  void logStatus(nc, logger);
  const jsm = await jetstreamManager(nc);
  logger.info({ nats: config.description, server: nc.getServer() }, 'connected to NATS');
  let last: { at: number; result: Promise<void> } | undefined;
  return {
    config,
    nc,
    jsm,
    ping() {
      const now = Date.now();
      if (last === undefined || now - last.at >= PING_CACHE_MS) {
        const result = withTimeout(jsm.streams.info(config.stream), PING_TIMEOUT_MS, 'JetStream');
        result.catch(() => undefined);
        last = { at: now, result: result.then(() => undefined) };
      }
      return last.result;
    },
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/** One line per disconnect and reconnect; pings and cluster updates are not news. */
async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect') logger.warn({ server: status.server }, 'NATS disconnected');
    else if (status.type === 'reconnect')
      logger.info({ server: status.server }, 'NATS reconnected');
    else if (status.type === 'error') logger.warn({ err: status.error }, 'NATS error');
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Creates the trade stream `name` if missing, with the replicas of
 * `NATS_REPLICAS` (or checks the one there), and logs which.
 */
export async function openTradeStream(
  bus: Bus,
  name: string,
  logger: Logger,
  libraryLogger: Logger,
): Promise<void> {
  const stream = await ensureTradeStream(bus.jsm, {
    name,
    replicas: bus.config.replicas,
    logger: libraryLogger.child({ component: 'bus' }),
  });
  const replicas = stream.info.config.num_replicas;
  if (!stream.created && replicas !== bus.config.replicas) {
    logger.warn(
      { stream: stream.name, replicas, NATS_REPLICAS: bus.config.replicas },
      `stream ${stream.name} has ${replicas} replica(s), not the ${bus.config.replicas} of NATS_REPLICAS: NATS_REPLICAS applies only when a process creates the stream`,
    );
  }
  logger.info(
    {
      stream: stream.name,
      created: stream.created,
      replicas,
      messages: stream.info.state.messages,
    },
    stream.created ? 'stream created' : 'stream found',
  );
}
