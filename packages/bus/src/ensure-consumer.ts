import { TradeError, type Logger } from '@trade/core';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { ConsumerDeliverPolicy } from './record-consumer-options.js';
import { channelFilter, filterChannel, subjectCovers } from './subjects.js';

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
 * An existing consumer without a filter subject (or with one wider than
 * a channel, such as `md.binance.>`) when the filter asked for names one
 * channel (`md.binance.trade.>`) delivers the other channels' messages
 * (quotes, book snapshots) too: a warning says so and how to fix it, and
 * the record consumer acks and skips those messages.
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

/**
 * Warns when the consumer delivers more channels than the one the asked
 * filter names (see {@link ensureDurableConsumer}). It is not narrowed
 * here: nats-server 2.9 accepts a new filter subject for a consumer and then
 * delivers nothing at all to it (found on 2.9.10), and the fix belongs to
 * whoever runs the server.
 */
function warnIfWider(info: ConsumerInfo, wanted: DurableConsumerConfig, logger: Logger): void {
  const channel =
    wanted.filterSubject === undefined ? undefined : filterChannel(wanted.filterSubject);
  if (channel === undefined) return;
  const { config } = info;
  const filters =
    config.filter_subjects !== undefined && config.filter_subjects.length > 0
      ? config.filter_subjects
      : [
          config.filter_subject === undefined || config.filter_subject === ''
            ? '>'
            : config.filter_subject,
        ];
  const channelWide = channelFilter(channel);
  if (!filters.some((filter) => !subjectCovers(channelWide, filter))) return;
  logger.warn(
    {
      stream: wanted.stream,
      consumer: wanted.name,
      filterSubject: config.filter_subject ?? '',
      askedFilterSubject: wanted.filterSubject,
    },
    `bus: the durable consumer ${wanted.name} delivers more than ${channel} messages (created without a filter subject, or a wider one); ` +
      `messages of other channels are acked and skipped. Fix: delete it while no process uses it (nats consumer rm ${wanted.stream} ${wanted.name}) ` +
      `to have it created again with the filter ${channelWide}, or on nats-server 2.10 or later give it that filter (nats consumer edit)`,
  );
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
  warnIfWider(info, wanted, logger);
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
