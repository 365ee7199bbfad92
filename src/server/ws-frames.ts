/**
 * WebSocket text frames written straight to a socket, for the shared fan-out (src/realtime/fanout.ts): one event's
 * `next` messages differ only by their subscription id, so the payload is encoded once per event and each socket's
 * frame is its header, its id's prefix and that payload, copied into one buffer and written in one call.
 *
 * Why not `ws`'s `send`: for each message it builds two option objects, frames the data into a header and a second
 * chunk, and corks the socket to write both; written to a thousand sockets in one loop, that was a quarter of the
 * fan-out's time (bench/README.md). What `send` adds here — compression and queueing behind a message still being
 * compressed or read from a Blob — this server never uses: permessage-deflate is off and every message is a string.
 * A socket that negotiated an extension still goes through `send` (`writeText`).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** FIN and the text opcode (RFC 6455 §5.2). */
const FIN_TEXT = 0x81;

/** One unmasked text frame (a server's, RFC 6455 §5.2) whose payload is `head` followed by `body`. */
export function textFrame(head: Buffer, body: Buffer): Buffer {
  const length = head.length + body.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extended + length);
  frame[0] = FIN_TEXT;
  if (extended === 0) frame[1] = length;
  else if (extended === 2) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  head.copy(frame, 2 + extended);
  body.copy(frame, 2 + extended + head.length);
  return frame;
}

/**
 * Writes one text message, `head` then `body`, on an open WebSocket: as one frame on its underlying socket (`raw`, the
 * upgraded connection), or through `send` when the connection negotiated an extension. The socket's `bufferedAmount`
 * counts what is written either way, so the fan-out's bound on a socket that stops reading holds.
 */
export function writeText(socket: WebSocket, raw: Duplex, head: Buffer, body: Buffer): void {
  if (socket.extensions === '') raw.write(textFrame(head, body));
  else socket.send(Buffer.concat([head, body]), { binary: false });
}
