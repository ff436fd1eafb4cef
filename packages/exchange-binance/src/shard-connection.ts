import type { IncomingMessage } from 'node:http';
import { Backoff } from '@trade/core';
import WebSocket from 'ws';
import type { BurstClock } from './burst-clock.js';
import type { ConnectionState } from './client-events.js';
import type { ResolvedClientOptions } from './client-options.js';
import type { ConnectGate } from './connect-gate.js';
import {
  closeConnection,
  logRefusal,
  MAX_WS_PAYLOAD,
  nextRequestId,
  openConnection,
  type Connection,
} from './connection.js';
import { streamNamesOf } from './market-channel.js';
import type { FrameResult } from './parse-frame.js';
import { parseRetryAfter } from './retry-after.js';
import type { ShardHost } from './shard-host.js';

/**
 * One shard's streams over WebSocket: connects and reconnects with backoff,
 * rotates before the 24 h limit (and on `serverShutdown`) by opening the
 * replacement before closing the old connection, replaces a silent
 * connection, pings an idle one, answers pings through the rate-limited
 * control queue, and pauses its sockets for a slow consumer.
 *
 * During a rotation up to three connections exist: `current` (streams),
 * `draining` (the old one, kept until the new one caught up or the overlap
 * elapsed) and `incoming` (the replacement, not open yet).
 */
export class ShardConnection {
  readonly streams: readonly string[];
  /** Connection attempts, reconnects and planned rotations, for stats. */
  connectionAttempts = 0;
  reconnects = 0;
  rotations = 0;
  private readonly backoff: Backoff;
  private attempts = 0;
  /** Whether a connection of this shard has ever opened. */
  private opened = false;
  private current: Connection | undefined;
  /** The connection being replaced during a planned rotation. */
  private draining: Connection | undefined;
  /** The replacement being opened during a planned rotation. */
  private incoming: Connection | undefined;
  private reconnectTimer?: NodeJS.Timeout;
  private stableTimer?: NodeJS.Timeout;
  private overlapTimer?: NodeJS.Timeout;
  private paused = false;
  private closed = false;

  constructor(
    readonly index: number,
    readonly symbols: readonly string[],
    private readonly options: ResolvedClientOptions,
    private readonly gate: ConnectGate,
    private readonly clock: BurstClock,
    private readonly host: ShardHost,
  ) {
    this.streams = symbols.flatMap((s) => streamNamesOf(s, options.channels, options.streamType));
    this.backoff = new Backoff(options.backoff, options.random);
  }

  /** True while an old connection drains beside its replacement. */
  get overlapping(): boolean {
    return this.draining !== undefined;
  }

  /** True when the streaming connection is open. */
  get up(): boolean {
    return this.current?.opened === true && !this.current.closed;
  }

  /** Opens the first connection. */
  start(): void {
    this.connect(false);
  }

  /** Closes every connection for good; the promise settles once they are closed. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.stableTimer);
    clearTimeout(this.overlapTimer);
    const closing: Promise<void>[] = [];
    for (const connection of [this.current, this.draining, this.incoming]) {
      if (connection) closing.push(closeConnection(connection, 'client closed'));
    }
    this.host.emit({ type: 'connection', state: 'closed', shard: this.index });
    return Promise.all(closing).then(() => undefined);
  }

  /**
   * A tick for `symbol` at or before the delivered position came on
   * `connection` during an overlap: once the replacement has caught up on
   * every symbol, the old connection goes.
   */
  noteCaughtUp(connection: Connection, symbol: string): void {
    if (connection !== this.current) return;
    connection.caughtUp.add(symbol);
    if (connection.caughtUp.size === this.symbols.length) this.finishRotation('caught up');
  }

  /** A frame that is not a trade: a server shutdown notice or a reply to a request. */
  onControlFrame(
    connection: Connection,
    result: Extract<FrameResult, { kind: 'shutdown' | 'reply' }>,
  ): void {
    if (result.kind === 'shutdown') {
      this.options.logger.info(
        { shard: this.index, connection: connection.id },
        'binance: serverShutdown',
      );
      if (connection === this.current) this.rotate('serverShutdown');
      return;
    }
    const id = typeof result.id === 'number' ? result.id : NaN;
    const ours = connection.pendingReplies.delete(id);
    if (result.error) {
      this.host.reject('error_payload', `reply ${String(result.id)}: ${String(result.error.msg)}`);
      this.options.metrics?.errors.inc({ component: 'exchange' });
    } else if (!ours) {
      this.host.reject('subscription_reply', `unexpected reply ${String(result.id)}`);
    }
  }

  /** Replaces a connection silent for `watchdogMs`; pings one idle for `idlePingMs`. */
  checkLiveness(at: number): void {
    const { watchdogMs, idlePingMs, logger } = this.options;
    for (const connection of [this.current, this.draining]) {
      if (!connection?.opened || connection.closed) continue;
      const silent = at - connection.lastFrameAt;
      if (silent >= watchdogMs) {
        logger.warn(
          { shard: this.index, connection: connection.id, silentMs: silent },
          'binance: no frame, replacing connection',
        );
        connection.ws.terminate();
      } else if (silent >= idlePingMs && !connection.pinged) {
        connection.pinged = true;
        connection.control.send(() => {
          if (connection.ws.readyState === WebSocket.OPEN) connection.ws.ping();
        });
      }
    }
  }

  /** Stops (or resumes) reading the sockets for a slow consumer. */
  setPaused(paused: boolean, at: number): void {
    this.paused = paused;
    for (const c of [this.current, this.draining]) {
      if (c?.opened && !c.closed) {
        if (paused) c.ws.pause();
        else c.ws.resume();
      }
    }
    if (paused) return;
    // The silence clock restarts on resume: nothing could arrive while paused.
    for (const c of [this.current, this.draining, this.incoming]) {
      if (c) {
        c.lastFrameAt = at;
        c.pinged = false;
      }
    }
  }

  private connect(rotation: boolean): void {
    if (this.closed) return;
    const wait = this.gate.limitDelay();
    if (wait > 0) {
      this.options.logger.warn(
        { waitMs: wait },
        'binance: connection-attempt limit reached, waiting',
      );
      this.schedule(() => this.connect(rotation), wait);
      return;
    }
    // Another shard's refusal asked the whole IP to wait.
    const blocked = this.gate.blockedFor();
    if (blocked > 0) {
      this.schedule(() => this.connect(rotation), blocked);
      return;
    }
    this.gate.record();
    this.connectionAttempts++;
    const { metrics, maxUrlStreams } = this.options;
    metrics?.wsConnections.inc();
    if (this.attempts++ > 0) {
      this.reconnects++;
      metrics?.wsReconnects.inc();
    }
    const connection = openConnection(this, this.streams.slice(0, maxUrlStreams), this.options);
    if (rotation) this.incoming = connection;
    else this.current = connection;
    this.emitState(rotation ? 'rotating' : 'connecting');
    this.listen(connection, this.streams.slice(maxUrlStreams));
  }

  private listen(connection: Connection, toSubscribe: string[]): void {
    const { ws } = connection;
    const { metrics, logger, now } = this.options;
    const host = this.host;
    ws.on('open', () => this.onOpen(connection, toSubscribe));
    ws.on('message', (data: Buffer) => {
      // Frames still in flight when close() was called are not delivered, so they must not count.
      if (this.closed) return;
      const at = this.clock.read();
      connection.lastFrameAt = at;
      connection.pinged = false;
      host.onFrame(connection, data, at);
    });
    ws.on('ping', (data: Buffer) => {
      if (this.closed) return;
      connection.lastFrameAt = now();
      metrics?.markWsMessage(connection.lastFrameAt);
      connection.control.send(() => {
        if (ws.readyState === WebSocket.OPEN) ws.pong(data);
      });
    });
    ws.on('pong', () => {
      if (this.closed) return;
      connection.lastFrameAt = now();
      metrics?.markWsMessage(connection.lastFrameAt);
      connection.pinged = false;
    });
    ws.on('unexpected-response', (_request, response) => this.onRefused(connection, response));
    ws.on('error', (error: Error & { code?: string }) => {
      if (connection.refused) return; // our own abort of a refused upgrade, logged in onClose
      // Past maxPayload ws must drop the connection (1009): still a frame rejected.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && !this.closed) {
        host.reject('oversized_frame', `over ${MAX_WS_PAYLOAD} bytes: connection replaced`);
      }
      logger.warn(
        { shard: this.index, connection: connection.id, error: error.message },
        'binance: socket error',
      );
    });
    ws.on('close', (code: number, reason: Buffer) =>
      this.onClose(connection, `closed ${code}${reason.length ? ` ${reason.toString()}` : ''}`),
    );
  }

  /**
   * The upgrade got an HTTP answer instead of 101 (Binance: 429 past 300
   * attempts in 5 minutes, with `Retry-After`). Listening to ws's
   * 'unexpected-response' makes aborting the request our job: terminate()
   * does it, and the close that follows schedules the next attempt.
   */
  private onRefused(connection: Connection, response: IncomingMessage): void {
    const at = this.options.now();
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], at);
    connection.refused = { status: response.statusCode ?? 0, retryAfterMs };
    if (retryAfterMs !== undefined) this.gate.blockUntil(at + retryAfterMs);
    response.resume();
    connection.ws.terminate();
  }

  /** Backoff delay of the next attempt, never before a refusal's `Retry-After` elapsed. */
  private reconnectDelay(): number {
    return Math.max(this.backoff.next(), this.gate.blockedFor());
  }

  private onOpen(connection: Connection, toSubscribe: string[]): void {
    const { options } = this;
    connection.opened = true;
    connection.lastFrameAt = options.now();
    if (this.paused) connection.ws.pause();
    const perMessage = options.maxStreamsPerSubscribe;
    for (let i = 0; i < toSubscribe.length; i += perMessage) {
      const id = nextRequestId();
      const params = toSubscribe.slice(i, i + perMessage);
      connection.pendingReplies.add(id);
      connection.control.send(() => {
        if (connection.ws.readyState === WebSocket.OPEN) {
          connection.ws.send(JSON.stringify({ method: 'SUBSCRIBE', params, id }));
        }
      });
    }
    options.logger.info(
      { shard: this.index, connection: connection.id, streams: this.streams.length },
      'binance: connected',
    );
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => this.backoff.reset(), options.stableAfterMs);
    const ageMs = options.maxConnectionAgeMs;
    const jitterMs = Math.min(ageMs * 0.05, 600_000) * options.random();
    connection.rotateTimer = setTimeout(
      () => this.rotate('connection age limit'),
      ageMs - jitterMs,
    );

    const reconnected = this.incoming !== connection && this.opened;
    this.opened = true;
    if (reconnected) this.host.onReconnected(this);
    if (this.incoming === connection) {
      // A planned rotation: the new connection streams while the old one drains.
      this.incoming = undefined;
      this.draining = this.current;
      this.current = connection;
      this.overlapTimer = setTimeout(
        () => this.finishRotation('overlap elapsed'),
        options.rotationOverlapMs,
      );
    }
    this.emitState('open');
    this.host.onStatusChange();
  }

  private onClose(connection: Connection, reason: string): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.control.close();
    clearTimeout(connection.rotateTimer);
    if (connection.opened) this.options.metrics?.wsDisconnections.inc();
    if (this.closed) return;
    if (connection.refused) {
      reason = `refused: HTTP ${connection.refused.status}`;
    } else {
      this.options.logger.info(
        { shard: this.index, connection: connection.id, reason },
        'binance: connection closed',
      );
    }

    if (this.draining === connection) {
      this.finishRotation(reason);
      return;
    }
    if (this.incoming === connection) {
      // The replacement failed; the old connection keeps streaming. Try again later.
      this.incoming = undefined;
      const delay = this.reconnectDelay();
      logRefusal(this.options.logger, this.index, connection, delay);
      this.schedule(() => this.rotate('retry'), delay);
      return;
    }
    if (this.current !== connection) return;
    this.current = undefined;
    clearTimeout(this.stableTimer);
    if (this.incoming) {
      // Died while its replacement was opening: the replacement takes over as a plain reconnect.
      this.current = this.incoming;
      this.incoming = undefined;
      this.host.onStatusChange();
      return;
    }
    if (this.draining) {
      // The new connection died during overlap: the old one carries on, the
      // gaps seen meanwhile are settled, and the rotation is tried again later.
      this.current = this.draining;
      this.draining = undefined;
      clearTimeout(this.overlapTimer);
      this.host.onStatusChange();
      this.host.onRotationFinished(this);
      this.schedule(() => this.rotate('retry'), this.reconnectDelay());
      return;
    }
    this.host.onStatusChange();
    const delay = this.reconnectDelay();
    logRefusal(this.options.logger, this.index, connection, delay);
    this.host.emit({
      type: 'connection',
      state: 'disconnected',
      shard: this.index,
      reason,
      retryInMs: delay,
    });
    this.schedule(() => this.connect(false), delay);
  }

  /** The one pending reconnect or rotation attempt: a new one replaces it. */
  private schedule(attempt: () => void, delayMs: number): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(attempt, delayMs);
  }

  /** Opens a replacement before closing the current connection, so no trade is missed. */
  private rotate(reason: string): void {
    if (this.closed || this.incoming || this.draining || !this.current?.opened) return;
    this.rotations++;
    this.options.logger.info({ shard: this.index, reason }, 'binance: rotating connection');
    this.connect(true);
  }

  private finishRotation(reason: string): void {
    clearTimeout(this.overlapTimer);
    const old = this.draining;
    this.draining = undefined;
    if (old && !old.closed) void closeConnection(old, `rotation: ${reason}`);
    this.host.onRotationFinished(this);
  }

  private emitState(state: ConnectionState): void {
    this.host.emit({ type: 'connection', state, shard: this.index });
  }
}
