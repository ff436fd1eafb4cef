import { createTick, type Tick } from '@trade/core';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { createTradingMetrics, type TradingMetrics } from '@trade/metrics';
import { decodeTick } from '../../src/index.js';
import type { NatsServer } from './nats-server.js';

/**
 * A client that keeps trying to reconnect, quickly: an outage in a test
 * lasts seconds.
 */
export function connectTo(server: NatsServer): Promise<NatsConnection> {
  return connect({
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    reconnectJitter: 0,
    timeout: 5_000,
  });
}

/**
 * Valid ticks of one symbol with consecutive trade ids, prices and
 * quantities with many significant digits (no JavaScript number holds
 * them exactly).
 */
export function makeTicks(symbol: string, fromId: number, count: number): Tick[] {
  return Array.from({ length: count }, (_, i) => {
    const id = fromId + i;
    return createTick({
      symbol,
      tradeId: id,
      price: `${43_000 + (id % 977)}.${String(id % 100_000_000).padStart(8, '0')}`,
      quantity: `1234.${String((id * 7919) % 1_000_000_000_000).padStart(12, '0')}`,
      isBuyerMaker: id % 3 === 0,
      tradeTime: 1_700_000_000_000 + id,
      receiveTime: 1_700_000_000_000 + id + 7,
    });
  });
}

/** The lists merged one element of each at a time, as ticks of several symbols arrive. */
export function interleave<T>(...lists: T[][]): T[] {
  const merged: T[] = [];
  const longest = Math.max(...lists.map((list) => list.length));
  for (let i = 0; i < longest; i++) {
    for (const list of lists) if (i < list.length) merged.push(list[i]!);
  }
  return merged;
}

/** One message of the stream, read back. */
export interface StoredTick {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly tick: Tick;
}

/** Every message of `stream`, in stream order, each decoded into a tick (or the test fails). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredTick[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const seqs = Array.from({ length: state.last_seq }, (_, i) => i + 1);
  const stored: StoredTick[] = [];
  for (let start = 0; start < seqs.length; start += 200) {
    const chunk = await Promise.all(
      seqs.slice(start, start + 200).map((seq) => jsm.streams.getMessage(stream, { seq })),
    );
    for (const message of chunk) {
      if (message === null) continue;
      const decoded = decodeTick(message.data);
      if (!decoded.ok) throw new Error(`seq ${message.seq} is not a tick: ${decoded.message}`);
      stored.push({
        seq: message.seq,
        subject: message.subject,
        msgId: message.header.get('Nats-Msg-Id') || undefined,
        tick: decoded.tick,
      });
    }
  }
  return stored;
}

/** `symbol:tradeId`: what a store keys a tick by. */
export const tickKey = (tick: Tick): string => `${tick.symbol}:${tick.tradeId}`;

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A promise with its resolve and reject, for a test to settle. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fresh metrics catalogue on a registry of its own. */
export function testMetrics(): TradingMetrics {
  return createTradingMetrics({ registry: new Registry(), runtimeMetrics: false });
}

/** The sum of a family's samples whose labels include `labels`. */
export async function metricValue(
  metrics: TradingMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const family = metrics.registry.getSingleMetric(name);
  if (!family) throw new Error(`no metric ${name}`);
  const { values } = await family.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}
