/**
 * The fan-out's frames, written straight to the upgraded socket (src/server/ws-frames.ts), reach a real `ws` client
 * as the text messages `send` would have sent: at every payload length class of RFC 6455 (7-bit, 16-bit and 64-bit
 * lengths), with multi-byte UTF-8, in order with the messages `send` writes on the same socket, and — on a
 * connection that negotiated permessage-deflate — through `send` itself.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { textFrame, writeText } from '../../src/server/ws-frames.js';

let server: WebSocketServer;
let url: string;
const accepted: Array<{ socket: WebSocket; request: IncomingMessage }> = [];

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
  server.on('connection', (socket, request) => accepted.push({ socket, request }));
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A client and the server's side of it; `messages` collects what the client receives, as text. */
async function pair(options: WebSocket.ClientOptions = { perMessageDeflate: false }) {
  const client = new WebSocket(url, options);
  const messages: string[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => messages.push(isBinary ? '<binary>' : data.toString('utf8')));
  await once(client, 'open');
  while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const { socket, request } = accepted.shift()!;
  const received = async (count: number) => {
    while (messages.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
    return messages;
  };
  return { client, socket, raw: request.socket, received };
}

describe('fan-out frames written to the socket', () => {
  it('arrive whole at every length class of the frame header', async () => {
    const { client, socket, raw, received } = await pair();
    expect(socket.extensions).toBe('');
    const head = Buffer.from('{"id":"e7a1","type":"next","payload":');
    const lengths = [0, 1, 125 - head.length, 126 - head.length, 65_535 - head.length, 65_536 - head.length, 200_000];
    const bodies = lengths.map((length, i) => (length === 0 ? '' : `${String(i).repeat(length - 1)}}`));
    for (const body of bodies) writeText(socket, raw, head, Buffer.from(body));
    const messages = await received(bodies.length);
    expect(messages.map((message) => message.length)).toEqual(bodies.map((body) => head.length + body.length));
    expect(messages).toEqual(bodies.map((body) => head.toString() + body));
    client.close();
  });

  it('carry multi-byte UTF-8 as the client decodes it', async () => {
    const { client, socket, raw, received } = await pair();
    const body = Buffer.from('{"data":{"itemChanged":{"name":"Crème brûlée 🍮 — 東京"}}}}');
    writeText(socket, raw, Buffer.from('{"id":"1","type":"next","payload":'), body);
    expect(await received(1)).toEqual([`{"id":"1","type":"next","payload":${body.toString('utf8')}`]);
    client.close();
  });

  it('keep their order among the messages `send` writes on the same socket', async () => {
    const { client, socket, raw, received } = await pair();
    socket.send('first');
    writeText(socket, raw, Buffer.from('sec'), Buffer.from('ond'));
    socket.send('third');
    writeText(socket, raw, Buffer.from(''), Buffer.from('fourth'));
    expect(await received(4)).toEqual(['first', 'second', 'third', 'fourth']);
    client.close();
  });

  it('go through `send` on a connection that negotiated permessage-deflate', async () => {
    const { client, socket, raw, received } = await pair({ perMessageDeflate: true });
    expect(socket.extensions).toContain('permessage-deflate');
    const body = Buffer.from(`${'{"stock":1}'.repeat(50)}}`);
    writeText(socket, raw, Buffer.from('{"id":"1","type":"next","payload":'), body);
    socket.send('after');
    expect(await received(2)).toEqual([`{"id":"1","type":"next","payload":${body.toString()}`, 'after']);
    client.close();
  });

  it('frame as RFC 6455 says: FIN and text opcode, no mask, the shortest length form', () => {
    const frame = (length: number) => textFrame(Buffer.alloc(0), Buffer.alloc(length, 0x61));
    expect([...frame(5).subarray(0, 2)]).toEqual([0x81, 5]);
    expect([...frame(125).subarray(0, 2)]).toEqual([0x81, 125]);
    expect([...frame(126).subarray(0, 4)]).toEqual([0x81, 126, 0, 126]);
    expect([...frame(65_535).subarray(0, 4)]).toEqual([0x81, 126, 0xff, 0xff]);
    expect([...frame(65_536).subarray(0, 10)]).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(frame(65_536).length).toBe(10 + 65_536);
  });
});
