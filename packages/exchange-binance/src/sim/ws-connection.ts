import type { Socket } from 'node:net';
import {
  encodeFrame,
  frameHeaderLatin1,
  FrameReader,
  OPCODE_CLOSE,
  OPCODE_TEXT,
} from './ws-protocol.js';

/** What a {@link SimConnection} needs from its server. */
export interface SimConnectionContext {
  /** Counts one text frame written. */
  readonly countFrame: () => void;
  /** Runs `fn` in `ms` (a timer the server cancels when it closes). */
  readonly later: (ms: number, fn: () => void) => void;
}

/** What a {@link SimConnection} is opened with. */
export interface SimConnectionInit {
  readonly id: number;
  readonly socket: Socket;
  /** Path of the upgrade request, without the query: `/stream`, `/ws`, `/ws/<stream>`. */
  readonly path: string;
  /** `/stream` (frames wrapped in `{"stream":...,"data":...}`), or raw `/ws`. */
  readonly combined: boolean;
  readonly openedAt: number;
}

/**
 * One accepted WebSocket connection: its subscriptions and its output.
 * Trade frames queue as latin1 text and leave in one socket write per
 * {@link flush} (or every 64 KiB); any other frame flushes the queue first,
 * so frames leave in the order they were made.
 */
export class SimConnection {
  readonly id: number;
  readonly socket: Socket;
  readonly path: string;
  readonly combined: boolean;
  readonly openedAt: number;
  /** Canonical names of the subscribed streams. */
  readonly streams = new Set<string>();
  readonly reader = new FrameReader();
  /** Until then the connection is half-open: nothing in, nothing out. */
  silentUntil = 0;
  lastPongAt: number;
  /** Arrival times of the client's messages in the last second. */
  readonly incoming: number[] = [];
  /** A close frame was sent: it takes nothing more. */
  closing = false;
  private out = '';

  constructor(
    init: SimConnectionInit,
    private readonly context: SimConnectionContext,
  ) {
    this.id = init.id;
    this.socket = init.socket;
    this.path = init.path;
    this.combined = init.combined;
    this.openedAt = init.openedAt;
    this.lastPongAt = init.openedAt;
  }

  /** Whether trades sent at `at` reach this connection. */
  takesTrades(at: number): boolean {
    return !this.closing && this.silentUntil <= at;
  }

  /** Queues a text frame whose payload is ASCII (a trade), written at the next flush. */
  queueAscii(text: string): void {
    this.out += frameHeaderLatin1(OPCODE_TEXT, text.length) + text;
    this.context.countFrame();
    if (this.out.length > 65536) this.flush();
  }

  /** Writes the queued frames. */
  flush(): void {
    if (this.out.length === 0) return;
    const out = this.out;
    this.out = '';
    if (!this.socket.destroyed) this.socket.write(out, 'latin1');
  }

  /** Writes a text frame of any UTF-8 `text` now, after the queued ones. */
  sendText(text: string): void {
    this.flush();
    if (this.socket.destroyed) return;
    this.socket.write(encodeFrame(OPCODE_TEXT, Buffer.from(text, 'utf8')));
    this.context.countFrame();
  }

  /** Writes a control frame (ping, pong, close) now, after the queued ones. */
  sendControl(opcode: number, payload: Buffer): void {
    this.flush();
    if (!this.socket.destroyed) this.socket.write(encodeFrame(opcode, payload));
  }

  /** Sends a close frame and ends the socket; a client that never answers is cut off a second later. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.sendControl(OPCODE_CLOSE, payload);
    this.socket.end();
    this.context.later(1000, () => this.socket.destroy());
  }
}
