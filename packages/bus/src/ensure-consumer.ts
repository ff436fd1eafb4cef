import { TradeError, type Logger } from '@trade/core';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { ConsumerDeliverPolicy } from './tick-consumer-options.js';

/** What {@link ensureDurableConsumer} creates when the consumer is missing. */
export interface DurableConsumerConfig {
  readonly stream: string;
  readonly name: string;
  /** Only messages on these subjects (one pattern; servers before 2.10 take no list). */
  readonly filterSubject: string | undefined;
  /**
   * Where a consumer created now starts: the whole stream (`all`, the
   * default) or messages published from now on (`new`). An existing
   * consumer is not moved.
   */
  readonly deliverPolicy?: ConsumerDeliverPolicy | undefined;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

const NANOS_PER_MS = 1_000_000;

/**
 * Creates the durable pull consumer if it is missing (explicit acks,
 * delivering the whole stream, or only new messages when asked), or takes
 * the one that exists: several processes share it, and the first one's
 * settings hold, its place in the stream included. One that is a
 * push consumer or acks otherwise than one message at a time rejects with
 * a `TradeError`; other differences are logged.
 *
 * @example
 * ```ts
 * const info = await ensureDurableConsumer(jsm, {
 *   stream: 'TRADES', name: 'store', filterSubject: 'md.binance.trade.>',
 *   ackWaitMs: 30_000, maxAckPending: 10_000,
 * }, logger);
 * ```
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  config: DurableConsumerConfig,
  logger: Logger,
): Promise<ConsumerInfo> {
  const existing = await consumerInfo(jsm, config);
  if (existing) return checkExisting(existing, config, logger);
  try {
    const created = await jsm.consumers.add(config.stream, {
      durable_name: config.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: config.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
      ack_wait: config.ackWaitMs * NANOS_PER_MS,
      max_ack_pending: config.maxAckPending,
      ...(config.filterSubject === undefined ? {} : { filter_subject: config.filterSubject }),
    });
    logger.info(
      {
        stream: config.stream,
        consumer: config.name,
        filterSubject: config.filterSubject,
        deliverPolicy: config.deliverPolicy ?? 'all',
      },
      'bus: durable consumer created',
    );
    return created;
  } catch (error) {
    // Another process created it meanwhile: share theirs.
    const raced = await consumerInfo(jsm, config);
    if (!raced) throw error;
    return checkExisting(raced, config, logger);
  }
}

async function consumerInfo(
  jsm: JetStreamManager,
  { stream, name }: DurableConsumerConfig,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === JetStreamApiCodes.ConsumerNotFound) {
      return undefined;
    }
    throw error;
  }
}

function checkExisting(
  info: ConsumerInfo,
  wanted: DurableConsumerConfig,
  logger: Logger,
): ConsumerInfo {
  const { config } = info;
  if (config.deliver_subject !== undefined && config.deliver_subject !== '') {
    throw new TradeError(
      `bus: consumer ${wanted.name} of stream ${wanted.stream} is a push consumer; a pull consumer of that name is needed`,
    );
  }
  if (config.ack_policy !== AckPolicy.Explicit) {
    throw new TradeError(
      `bus: consumer ${wanted.name} of stream ${wanted.stream} has ack policy ${config.ack_policy}; explicit acks are needed so that shared processes ack only what they stored`,
    );
  }
  const ackWaitMs = (config.ack_wait ?? 0) / NANOS_PER_MS;
  const filterSubject = config.filter_subject === '' ? undefined : config.filter_subject;
  const askedDeliverPolicy = wanted.deliverPolicy ?? 'all';
  if (
    ackWaitMs !== wanted.ackWaitMs ||
    filterSubject !== wanted.filterSubject ||
    config.deliver_policy !== askedDeliverPolicy
  ) {
    logger.warn(
      {
        consumer: wanted.name,
        ackWaitMs,
        filterSubject,
        deliverPolicy: config.deliver_policy,
        askedAckWaitMs: wanted.ackWaitMs,
        askedFilterSubject: wanted.filterSubject,
        askedDeliverPolicy,
      },
      'bus: the durable consumer exists with other settings; using them',
    );
  }
  return info;
}
