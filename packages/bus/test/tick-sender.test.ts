import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureTradeStream, tradeMsgId, tradeSubject } from '../src/index.js';
import { publishFailureReason } from '../src/publish-window.js';
import { startTickSender, type TickSender } from '../src/tick-sender.js';
import { connectTo, makeTicks, readStream } from './helpers/bus.js';
import { NatsServer } from './helpers/nats-server.js';

// The sender publishes without the JetStream client's request per message:
// its acks, refusals and timeouts must come out as the client's would.

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const senders: TickSender[] = [];

function sender(options: { stream?: string; timeoutMs?: number } = {}): TickSender {
  const created = startTickSender(nc, {
    channel: 'trade',
    stream: options.stream ?? 'TRADES',
    timeoutMs: options.timeoutMs ?? 5_000,
  });
  senders.push(created);
  return created;
}

/** The failure reason `send` rejected with. */
async function reasonOf(sent: Promise<unknown>): Promise<string> {
  return sent.then(
    () => 'resolved',
    (error: unknown) => publishFailureReason(error),
  );
}

beforeAll(async () => {
  server = await NatsServer.launch();
});

afterAll(async () => {
  await server?.destroy();
});

beforeEach(async () => {
  if (!server.running) await server.start();
  nc = await connectTo(server);
  jsm = await jetstreamManager(nc);
  for (const name of await jsm.streams.names().next()) await jsm.streams.delete(name);
  await ensureTradeStream(jsm);
});

afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  await nc.close();
});

describe('startTickSender', () => {
  it("resolves with JetStream's ack, a repeated id as a duplicate; the message is the contract's", async () => {
    const [tick] = makeTicks('BTCUSDT', 7, 1);
    const send = sender();
    await expect(send.send(tick!)).resolves.toEqual({ duplicate: false });
    await expect(send.send(tick!)).resolves.toEqual({ duplicate: true });

    const stored = await readStream(nc, 'TRADES');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      subject: tradeSubject('BTCUSDT'),
      msgId: tradeMsgId('BTCUSDT', 7),
      tick,
    });
  });

  it('acks many publishes under way at once, each its own', async () => {
    const ticks = makeTicks('ETHUSDT', 1, 2_000);
    const send = sender();
    const acks = await Promise.all(ticks.map((tick) => send.send(tick)));
    expect(acks.every((ack) => !ack.duplicate)).toBe(true);
    expect((await readStream(nc, 'TRADES')).map((s) => s.tick)).toEqual(ticks);
  });

  it('rejects a publish JetStream refuses (another stream expected) and one no stream captures', async () => {
    const [tick] = makeTicks('SOLUSDT', 1, 1);
    expect(await reasonOf(sender({ stream: 'ELSEWHERE' }).send(tick!))).toBe('refused');
    await jsm.streams.delete('TRADES');
    expect(await reasonOf(sender().send(tick!))).toBe('no_responders');
  });

  it('fails a publish without an ack within the timeout, and one still waiting at close', async () => {
    const [first, second] = makeTicks('ADAUSDT', 1, 2);
    const send = sender({ timeoutMs: 300 });
    const other = sender();
    server.freeze();
    try {
      const timedOut = reasonOf(send.send(first!));
      const closed = reasonOf(other.send(second!));
      // Its own 300 ms ran out; the other sender (default timeout) still waits until closed.
      expect(await timedOut).toBe('timeout');
      other.close();
      expect(await closed).toBe('other');
      await expect(other.send(second!)).rejects.toThrow(/closed/);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
