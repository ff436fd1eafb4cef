import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

/**
 * A WebSocket the test drives by hand, injected with the client's
 * `WebSocket` option: for moments a real server cannot time on demand, such
 * as a ping landing between close() and the close handshake.
 */
export class FakeWebSocket extends EventEmitter {
  readyState: number = WebSocket.CONNECTING;
  paused = false;
  terminated = false;
  pings = 0;
  pongs = 0;
  readonly sent: string[] = [];

  constructor(readonly url: string) {
    super();
  }

  /** Completes the handshake. */
  open(): void {
    this.readyState = WebSocket.OPEN;
    this.emit('open');
  }

  /** A trade frame of the combined stream. */
  trade(symbol: string, id: number): void {
    const data = `{"e":"trade","E":1700000000000,"s":"${symbol}","t":${id},"p":"1.00000000","q":"1.00000000","T":1700000000000,"m":true,"M":true}`;
    this.emit('message', Buffer.from(`{"stream":"${symbol.toLowerCase()}@trade","data":${data}}`));
  }

  /** The server's answer to the close handshake. */
  closed(): void {
    this.readyState = WebSocket.CLOSED;
    this.emit('close', 1000, Buffer.alloc(0));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  ping(): void {
    this.pings++;
  }

  pong(): void {
    this.pongs++;
  }

  send(data: string): void {
    this.sent.push(data);
  }

  /** Starts the close handshake; {@link closed} finishes it. */
  close(): void {
    this.readyState = WebSocket.CLOSING;
  }

  terminate(): void {
    this.terminated = true;
    if (this.readyState !== WebSocket.CLOSED) this.closed();
  }
}

/** A `WebSocket` class for the client's options, and the sockets it made. */
export function fakeWebSockets(): { WebSocket: typeof WebSocket; sockets: FakeWebSocket[] } {
  const sockets: FakeWebSocket[] = [];
  class Recorded extends FakeWebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: Recorded as unknown as typeof WebSocket, sockets };
}
