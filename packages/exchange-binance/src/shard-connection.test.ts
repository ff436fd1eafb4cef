import type { IncomingMessage } from 'node:http';
import { silentLogger, type TickRejectReason } from '@trade/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeWebSockets, type FakeWebSocket } from '../test/fake-web-socket.js';
import { BurstClock } from './burst-clock.js';
import type { BinanceClientEvent } from './client-events.js';
import { resolveClientOptions, type BinanceTradeClientOptions } from './client-options.js';
import { ConnectGate } from './connect-gate.js';
import type { Connection } from './connection.js';
import { parseFrameText } from './parse-frame.js';
import { ShardConnection } from './shard-connection.js';
import type { ShardHost } from './shard-host.js';

const START = 1_800_000_000_000;

/** A trade as the host saw it: which socket it came on, and its id. */
interface Frame {
  readonly socket: number;
  readonly tradeId: number;
}

/**
 * A ShardConnection on fake sockets, with a host that parses each frame as
 * the client does: trades are recorded, control frames (replies,
 * `serverShutdown`) are handed back to the shard.
 */
function harness(
  options: Partial<BinanceTradeClientOptions> = {},
  symbols: readonly string[] = ['BTCUSDT'],
) {
  const fake = fakeWebSockets();
  const resolved = resolveClientOptions({
    url: 'ws://ws.invalid',
    restUrl: 'http://rest.invalid',
    symbols,
    WebSocket: fake.WebSocket,
    logger: silentLogger,
    now: () => Date.now(),
    random: () => 0, // no jitter: backoff and rotation times are exact
    backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 },
    ...options,
  });
  const sockets = fake.sockets;
  const frames: Frame[] = [];
  const events: BinanceClientEvent[] = [];
  const calls: string[] = [];
  const rejects: [TickRejectReason, string][] = [];
  const connections = new Map<FakeWebSocket, Connection>();
  const host: ShardHost = {
    onFrame: (connection, data, at) => {
      const socket = connection.ws as unknown as FakeWebSocket;
      connections.set(socket, connection);
      const result = parseFrameText(data.toString(), resolved.streamType, at);
      if (result.kind === 'tick') {
        frames.push({ socket: sockets.indexOf(socket), tradeId: result.tick.tradeId });
      } else if (result.kind === 'shutdown' || result.kind === 'reply') {
        shard.onControlFrame(connection, result);
      } else {
        rejects.push([result.reason, result.detail]);
      }
    },
    emit: (event) => events.push(event),
    reject: (reason, detail) => rejects.push([reason, detail]),
    onReconnected: () => calls.push('reconnected'),
    onRotationFinished: () => calls.push('rotation finished'),
    onStatusChange: () => calls.push('status'),
  };
  const gate = new ConnectGate(resolved.maxConnectionAttempts, resolved.now);
  const shard = new ShardConnection(
    0,
    resolved.symbols,
    resolved,
    gate,
    new BurstClock(resolved.now),
    host,
  );
  /** The shard's Connection of a socket (known once a frame came on it). */
  const connection = (socket: FakeWebSocket) => {
    const found = connections.get(socket);
    if (found === undefined) throw new Error('no frame came on this socket yet');
    return found;
  };
  /** The connection states emitted, in order. */
  const states = () =>
    events.flatMap((e) => (e.type === 'connection' ? [e.state] : ([] as string[])));
  return { shard, gate, sockets, frames, events, states, calls, rejects, connection };
}

const send = (socket: FakeWebSocket, frame: object) =>
  socket.emit('message', Buffer.from(JSON.stringify(frame)));

const sentMessages = (socket: FakeWebSocket) =>
  socket.sent.map((s) => JSON.parse(s) as { method: string; params: string[]; id: number });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: START });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ShardConnection', () => {
  it('names the first streams in the URL and SUBSCRIBEs the rest once open, spaced by the control rate', () => {
    const { shard, sockets, states, calls, rejects, connection } = harness(
      { maxUrlStreams: 1, maxStreamsPerSubscribe: 1, controlMessagesPerSecond: 4 },
      ['AAAUSDT', 'BBBUSDT', 'CCCUSDT'],
    );
    expect(shard.streams).toEqual(['aaausdt@trade', 'bbbusdt@trade', 'cccusdt@trade']);
    shard.start();
    expect(sockets.map((s) => s.url)).toEqual(['ws://ws.invalid/stream?streams=aaausdt@trade']);
    expect(states()).toEqual(['connecting']);
    expect(shard.up).toBe(false);
    expect(sockets[0]!.sent).toEqual([]);

    sockets[0]!.open();
    expect(states()).toEqual(['connecting', 'open']);
    expect(shard.up).toBe(true);
    expect(calls).toEqual(['status']);
    // 4 a second: one now, the next 250 ms later.
    expect(sentMessages(sockets[0]!).map((m) => [m.method, m.params])).toEqual([
      ['SUBSCRIBE', ['bbbusdt@trade']],
    ]);
    vi.advanceTimersByTime(249);
    expect(sockets[0]!.sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    const sent = sentMessages(sockets[0]!);
    expect(sent.map((m) => [m.method, m.params])).toEqual([
      ['SUBSCRIBE', ['bbbusdt@trade']],
      ['SUBSCRIBE', ['cccusdt@trade']],
    ]);

    // Replies to its own requests are taken quietly; others are rejected.
    for (const { id } of sent) send(sockets[0]!, { result: null, id });
    expect(rejects).toEqual([]);
    send(sockets[0]!, { result: null, id: sent[0]!.id }); // answered already
    send(sockets[0]!, { error: { code: 2, msg: 'Invalid request' }, id: 999_999 });
    expect(rejects).toEqual([
      ['subscription_reply', `unexpected reply ${sent[0]!.id}`],
      ['error_payload', 'reply 999999: Invalid request'],
    ]);
    expect(connection(sockets[0]!).pendingReplies.size).toBe(0);
  });

  it('hands every frame to the host with its connection, and none once closed', async () => {
    const { shard, sockets, frames } = harness();
    shard.start();
    sockets[0]!.open();
    for (const id of [1, 2, 3]) sockets[0]!.trade('BTCUSDT', id);
    const closing = shard.close();
    sockets[0]!.trade('BTCUSDT', 4); // still in flight when close() was called
    sockets[0]!.closed();
    await closing;
    expect(frames).toEqual([1, 2, 3].map((tradeId) => ({ socket: 0, tradeId })));
  });

  it('pings a connection idle for idlePingMs once, and answers server pings', () => {
    const { shard, sockets } = harness({ watchdogMs: 1_000, idlePingMs: 400 });
    shard.start();
    const ws = sockets[0]!;
    ws.open();
    vi.advanceTimersByTime(399);
    shard.checkLiveness(Date.now());
    expect(ws.pings).toBe(0);
    vi.advanceTimersByTime(1);
    shard.checkLiveness(Date.now());
    shard.checkLiveness(Date.now());
    expect(ws.pings).toBe(1);
    // The pong counts as a frame: silence starts over, and a later idle spell pings again.
    ws.emit('pong', Buffer.alloc(0));
    vi.advanceTimersByTime(999);
    shard.checkLiveness(Date.now());
    expect(ws.terminated).toBe(false);
    expect(ws.pings).toBe(2);
    // A server ping is answered through the control queue: 250 ms after the last ping went.
    ws.emit('ping', Buffer.from('x'));
    expect(ws.pongs).toBe(0);
    vi.advanceTimersByTime(250);
    expect(ws.pongs).toBe(1);
  });

  it('replaces a connection silent for watchdogMs: terminated, disconnected, reconnected after the backoff', () => {
    const { shard, sockets, events, states, calls } = harness({
      watchdogMs: 1_000,
      idlePingMs: 400,
    });
    shard.start();
    sockets[0]!.open();
    sockets[0]!.trade('BTCUSDT', 1);
    vi.advanceTimersByTime(999);
    shard.checkLiveness(Date.now());
    expect(sockets[0]!.terminated).toBe(false);
    vi.advanceTimersByTime(1);
    shard.checkLiveness(Date.now());
    expect(sockets[0]!.terminated).toBe(true);
    expect(shard.up).toBe(false);
    expect(events.at(-1)).toEqual({
      type: 'connection',
      state: 'disconnected',
      shard: 0,
      reason: 'closed 1000',
      retryInMs: 100,
    });
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    expect(calls).not.toContain('reconnected');
    sockets[1]!.open();
    expect(calls).toContain('reconnected');
    expect(states()).toEqual(['connecting', 'open', 'disconnected', 'connecting', 'open']);
    expect(shard).toMatchObject({ up: true, connectionAttempts: 2, reconnects: 1, rotations: 0 });
  });

  it('rotates at the age limit: the replacement opens before the old one drains, every frame reaches the host once', () => {
    const { shard, sockets, frames, states, calls, connection } = harness({
      maxConnectionAgeMs: 10_000,
      rotationOverlapMs: 5_000,
    });
    shard.start();
    const old = sockets[0]!;
    old.open();
    old.trade('BTCUSDT', 1);
    old.trade('BTCUSDT', 2);
    vi.advanceTimersByTime(9_999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    // The replacement is opening; the old connection streams on.
    expect(sockets).toHaveLength(2);
    const next = sockets[1]!;
    expect(states().at(-1)).toBe('rotating');
    expect(shard).toMatchObject({ up: true, overlapping: false, rotations: 1 });
    old.trade('BTCUSDT', 3);

    next.open();
    expect(shard).toMatchObject({ up: true, overlapping: true });
    expect(old.readyState).toBe(1); // OPEN: both stream during the overlap
    expect(calls).not.toContain('reconnected'); // planned: nothing was missed
    next.trade('BTCUSDT', 3);
    old.trade('BTCUSDT', 4);
    next.trade('BTCUSDT', 4);
    next.trade('BTCUSDT', 5);
    expect(frames).toEqual([
      { socket: 0, tradeId: 1 },
      { socket: 0, tradeId: 2 },
      { socket: 0, tradeId: 3 },
      { socket: 1, tradeId: 3 },
      { socket: 0, tradeId: 4 },
      { socket: 1, tradeId: 4 },
      { socket: 1, tradeId: 5 },
    ]);

    // A note about the old connection does not end the overlap; one about the new one does.
    shard.noteCaughtUp(connection(old), 'BTCUSDT');
    expect(shard.overlapping).toBe(true);
    shard.noteCaughtUp(connection(next), 'BTCUSDT');
    expect(shard.overlapping).toBe(false);
    expect(calls.at(-1)).toBe('rotation finished');
    expect(old.readyState).toBe(2); // CLOSING: a polite close, answered below
    old.closed();
    vi.advanceTimersByTime(5_000); // past the overlap: it ended once
    expect(sockets).toHaveLength(2); // the old one's close is not a disconnection
    expect(calls.filter((c) => c === 'rotation finished')).toHaveLength(1);
    expect(states()).toEqual(['connecting', 'open', 'rotating', 'open']);
    expect(shard).toMatchObject({ up: true, connectionAttempts: 2 });
  });

  it('rotates on serverShutdown; the old connection goes when the overlap elapsed if the new one never caught up', () => {
    const { shard, sockets, calls, connection } = harness({ rotationOverlapMs: 5_000 }, [
      'AAAUSDT',
      'BBBUSDT',
    ]);
    shard.start();
    const old = sockets[0]!;
    old.open();
    send(old, { stream: '!shutdown', data: { e: 'serverShutdown', E: 1 } });
    expect(sockets).toHaveLength(2);
    const next = sockets[1]!;
    next.open();
    next.trade('AAAUSDT', 10);
    shard.noteCaughtUp(connection(next), 'AAAUSDT'); // caught up on one symbol of two
    expect(shard.overlapping).toBe(true);
    vi.advanceTimersByTime(4_999);
    expect(old.readyState).toBe(1);
    vi.advanceTimersByTime(1);
    expect(shard.overlapping).toBe(false);
    expect(old.readyState).toBe(2);
    expect(calls.at(-1)).toBe('rotation finished');
    // Answered or not, the old socket is gone within a second.
    vi.advanceTimersByTime(1_000);
    expect(old.terminated).toBe(true);
    expect(shard.up).toBe(true);
    expect(sockets).toHaveLength(2);
  });

  it('keeps streaming on the current connection when its replacement fails to open, and tries the rotation again', () => {
    const { shard, sockets, events, states } = harness({ maxConnectionAgeMs: 10_000 });
    shard.start();
    sockets[0]!.open();
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(2);
    sockets[1]!.closed(); // refused before it opened
    expect(shard).toMatchObject({ up: true, overlapping: false });
    expect(events.some((e) => e.type === 'connection' && e.state === 'disconnected')).toBe(false);
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1); // the backoff's first delay
    expect(sockets).toHaveLength(3);
    sockets[2]!.open();
    expect(shard.overlapping).toBe(true);
    expect(states()).toEqual(['connecting', 'open', 'rotating', 'rotating', 'open']);
  });

  it('falls back to the old connection when the new one dies during the overlap, settles the overlap and rotates again later', () => {
    const { shard, sockets, frames, calls } = harness({ rotationOverlapMs: 5_000 });
    shard.start();
    const old = sockets[0]!;
    old.open();
    send(old, { data: { e: 'serverShutdown' } });
    sockets[1]!.open();
    calls.length = 0;
    sockets[1]!.terminate();
    expect(shard).toMatchObject({ up: true, overlapping: false });
    // The gaps seen during the overlap are settled now, not at the symbol's next trade.
    expect(calls).toEqual(['status', 'rotation finished']);
    expect(old.readyState).toBe(1);
    old.trade('BTCUSDT', 7);
    expect(frames).toEqual([{ socket: 0, tradeId: 7 }]);
    // The rotation is tried again after the backoff's first delay.
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    sockets[2]!.open();
    expect(shard.overlapping).toBe(true);
    expect(shard.rotations).toBe(2);
  });

  it('leaves no timer behind at close after a failed replacement and a lost connection', async () => {
    const { shard, sockets } = harness({ maxConnectionAgeMs: 10_000 });
    shard.start();
    sockets[0]!.open();
    vi.advanceTimersByTime(10_000);
    sockets[1]!.closed(); // the replacement is refused: a rotation retry is scheduled
    sockets[0]!.terminate(); // then the current connection dies: a reconnect replaces it
    await shard.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('after the current connection dies while its replacement opens, the replacement takes over as a reconnect', () => {
    const { shard, sockets, calls, events } = harness();
    shard.start();
    sockets[0]!.open();
    send(sockets[0]!, { data: { e: 'serverShutdown' } });
    sockets[0]!.terminate();
    expect(shard.up).toBe(false);
    expect(events.some((e) => e.type === 'connection' && e.state === 'disconnected')).toBe(false);
    sockets[1]!.open();
    expect(shard).toMatchObject({ up: true, overlapping: false });
    expect(calls).toContain('reconnected');
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('waits out a refused upgrade’s Retry-After, and holds every shard of the gate back too', () => {
    const { shard, gate, sockets, events } = harness();
    shard.start();
    const response = {
      statusCode: 429,
      headers: { 'retry-after': '5' },
      resume: vi.fn(),
    } as unknown as IncomingMessage;
    sockets[0]!.emit('unexpected-response', {}, response);
    expect(sockets[0]!.terminated).toBe(true);
    expect(response.resume).toHaveBeenCalled();
    expect(gate.blockedFor()).toBe(5_000);
    expect(events.at(-1)).toEqual({
      type: 'connection',
      state: 'disconnected',
      shard: 0,
      reason: 'refused: HTTP 429',
      retryInMs: 5_000,
    });
    vi.advanceTimersByTime(4_999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
  });

  it('pauses its sockets for a slow consumer, a connection opened meanwhile too, and counts no silence from before the resume', () => {
    const { shard, sockets } = harness({ watchdogMs: 1_000, idlePingMs: 400 });
    shard.start();
    shard.setPaused(true, Date.now());
    sockets[0]!.open();
    expect(sockets[0]!.paused).toBe(true);
    vi.advanceTimersByTime(10_000);
    shard.setPaused(false, Date.now());
    expect(sockets[0]!.paused).toBe(false);
    vi.advanceTimersByTime(399);
    shard.checkLiveness(Date.now());
    expect(sockets[0]!).toMatchObject({ pings: 0, terminated: false });
  });

  it('close() closes every connection, stops reconnecting and leaves no timer behind', async () => {
    const { shard, sockets, states, frames } = harness({ maxConnectionAgeMs: 10_000 });
    shard.start();
    const current = sockets[0]!;
    current.open();
    vi.advanceTimersByTime(10_000); // a replacement is opening
    const incoming = sockets[1]!;
    let closed = false;
    const closing = shard.close().then(() => (closed = true));
    expect(states().at(-1)).toBe('closed');
    expect(incoming.terminated).toBe(true); // not open yet: dropped
    expect(current.readyState).toBe(2); // CLOSING: a polite close
    await Promise.resolve();
    expect(closed).toBe(false);
    // The server never answers the close: terminated after a second.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(current.terminated).toBe(true);
    await closing;
    expect(closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(shard.up).toBe(false);
    vi.advanceTimersByTime(600_000);
    expect(sockets).toHaveLength(2);
    current.trade('BTCUSDT', 1);
    expect(frames).toEqual([]);
  });
});
