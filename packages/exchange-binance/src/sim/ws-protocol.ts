import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// The server side of RFC 6455, as much as the simulator needs. Written here
// rather than borrowed from `ws` so the simulator controls every byte it
// sends: it writes many frames in one socket write, and its faults (half-open
// sockets, abrupt drops, unanswered pings) are exact.

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** The `101 Switching Protocols` response for an upgrade request, or `undefined` when it is not a valid one. */
export function handshakeResponse(request: IncomingMessage): string | undefined {
  const key = request.headers['sec-websocket-key'];
  const upgrade = request.headers.upgrade;
  if (typeof key !== 'string' || typeof upgrade !== 'string') return undefined;
  if (upgrade.toLowerCase() !== 'websocket') return undefined;
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  // No Sec-WebSocket-Extensions: permessage-deflate is declined, as Binance does for trade streams.
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
  );
}

/** A header for an unmasked server frame as a latin1 string, so frames can be concatenated as text. */
export function frameHeaderLatin1(opcode: number, length: number): string {
  const first = String.fromCharCode(0x80 | opcode);
  if (length < 126) return first + String.fromCharCode(length);
  if (length < 65536) return first + String.fromCharCode(126, length >> 8, length & 0xff);
  const high = Math.floor(length / 2 ** 32);
  const low = length >>> 0;
  return (
    first +
    String.fromCharCode(
      127,
      (high >>> 24) & 0xff,
      (high >>> 16) & 0xff,
      (high >>> 8) & 0xff,
      high & 0xff,
      (low >>> 24) & 0xff,
      (low >>> 16) & 0xff,
      (low >>> 8) & 0xff,
      low & 0xff,
    )
  );
}

/** One complete unmasked server frame. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(frameHeaderLatin1(opcode, payload.length), 'latin1'), payload]);
}

/** A frame received from a client, unmasked, with fragments of a message joined. */
export interface ClientFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/**
 * Reassembles client frames from socket chunks. Returns `undefined` from
 * {@link push} on a protocol error (unmasked client frame, oversized frame),
 * which the server answers by dropping the connection.
 */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;

  constructor(private readonly maxPayload = 1 << 20) {}

  push(chunk: Buffer): ClientFrame[] | undefined {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: ClientFrame[] = [];
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) break;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      if (!masked) return undefined;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (length > this.maxPayload) return undefined;
      if (b.length < offset + 4 + length) break;
      const mask = b.subarray(offset, offset + 4);
      const payload = Buffer.from(b.subarray(offset + 4, offset + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
      this.buffered = b.subarray(offset + 4 + length);
      if (opcode >= OPCODE_CLOSE) {
        frames.push({ opcode, payload });
      } else if (!fin) {
        if (opcode !== OPCODE_CONTINUATION) this.fragmentOpcode = opcode;
        this.fragments.push(payload);
      } else if (opcode === OPCODE_CONTINUATION) {
        this.fragments.push(payload);
        frames.push({ opcode: this.fragmentOpcode, payload: Buffer.concat(this.fragments) });
        this.fragments = [];
      } else {
        frames.push({ opcode, payload });
      }
    }
    return frames;
  }
}
