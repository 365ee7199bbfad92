/**
 * Fan-out driver, run as a child process of the harness (IPC): holds N graphql-ws subscribers (raw `ws`, speaking
 * graphql-transport-ws) and publishes events one at a time with an `updateItem` mutation, recording for every
 * subscriber the time from sending the mutation to receiving its `next` message. Timestamps are taken on arrival with
 * the monotonic clock. A message is only stamped and kept when it arrives (its event number read from the bytes); it
 * is parsed and checked once the event is over, so one subscriber's parsing never delays the next one's arrival, and
 * OpsHub's row and the floor's pay the same per-message cost in this process.
 *
 * For the floor (bench/ws-floor.ts) it holds N plain sockets instead, and each event is a control message asking that
 * server to broadcast the bytes of a `next` frame OpsHub sent: the same bytes to the same number of sockets, timed
 * the same way, from the request to each arrival.
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';

export type DriverCommand =
  | { type: 'connect'; wsUrl: string; n: number; authorization: string | null; query: string; plain?: boolean }
  | {
      type: 'publish';
      httpUrl: string;
      authorization: string | null;
      mutation: string;
      itemId: string;
      /** Events numbered from `first`; `measured: false` publishes them as a warm-up, recording nothing. */
      first: number;
      events: number;
      measured: boolean;
      timeoutMs: number;
    }
  | { type: 'broadcast'; controlUrl: string; frame: string; first: number; events: number; measured: boolean; timeoutMs: number }
  | { type: 'close' };

export type DriverReply =
  | { type: 'connected'; open: number; failed: number; error?: string }
  | {
      type: 'published';
      latenciesMs: number[];
      delivered: number;
      expected: number;
      badPayloads: number;
      mutationErrors: number;
      /** Median round trip of the publishing mutation itself. */
      mutationMs: number;
      /** The last `next` message as it arrived (the floor broadcasts the same bytes). */
      sample: string | null;
      /** Floor only: per event, the server's loop from the request's arrival to its last write. */
      serverWriteMs?: number[];
    }
  | { type: 'closed' };

interface Subscriber {
  socket: WebSocket;
  /** Event number → arrival time (ns, monotonic). */
  arrivals: Map<number, bigint>;
  /** Messages of the event under way as they arrived, checked when it is over (`settle`). */
  received: { at: bigint; event: number; raw: Buffer }[];
  bad: number;
}

const subscribers: Subscriber[] = [];
/** The last well-formed `next` message received (a steady-state frame: the first ones carry `extensions.cost`). */
let sample: Buffer | null = null;
/** Plain sockets (the floor): every message is the event being broadcast. */
let currentEvent = 0;
let waiting: { event: number; remaining: number; resolve: () => void } | null = null;

function send(reply: DriverReply): void {
  process.send!(reply);
}

function connectPlain(wsUrl: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, arrivals: new Map(), received: [], bad: 0 };
    socket.once('error', reject);
    socket.once('open', () => resolve(subscriber));
    socket.on('message', (raw: Buffer) => arrive(subscriber, currentEvent, raw));
  });
}

/** A message's arrival: stamped, kept for `settle`, and counted for the event under way. Nothing is parsed here. */
function arrive(subscriber: Subscriber, event: number, raw: Buffer): void {
  subscriber.received.push({ at: process.hrtime.bigint(), event, raw });
  if (waiting && waiting.event === event) {
    waiting.remaining -= 1;
    if (waiting.remaining === 0) waiting.resolve();
  }
}

const STOCK = Buffer.from('"stock":');
/** The event a `next` frame carries (its stock − 1,000,000), read from the bytes; -1 for any other message. */
function eventOf(raw: Buffer): number {
  const at = raw.indexOf(STOCK);
  if (at < 0) return -1;
  let stock = 0;
  for (let i = at + STOCK.length; i < raw.length && raw[i]! >= 48 && raw[i]! <= 57; i += 1) stock = stock * 10 + raw[i]! - 48;
  return stock - 1_000_000;
}

/**
 * Once an event is over (or timed out): every message a subscriber received is parsed and checked. An arrival counts
 * for its event when it is a well-formed `next` without errors whose stock names that event (the floor's plain sockets
 * count every message for the event being broadcast).
 */
function settle(plain: boolean): void {
  for (const subscriber of subscribers) {
    for (const { at, event, raw } of subscriber.received) {
      if (plain) {
        subscriber.arrivals.set(event, at);
        continue;
      }
      let message: { type?: string; payload?: any };
      try {
        message = JSON.parse(raw.toString('utf8')) as typeof message;
      } catch {
        subscriber.bad += 1;
        continue;
      }
      if (message.type !== 'next') {
        if (message.type === 'error' || message.type === 'complete') subscriber.bad += 1;
        continue;
      }
      const stock = message.payload?.data?.itemChanged?.stock;
      if (message.payload?.errors || typeof stock !== 'number' || stock - 1_000_000 !== event) subscriber.bad += 1;
      else {
        subscriber.arrivals.set(event, at);
        sample = raw;
      }
    }
    subscriber.received.length = 0;
  }
}

function connectOne(wsUrl: string, authorization: string | null, query: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, arrivals: new Map(), received: [], bad: 0 };
    let acknowledged = false;
    const timer = setTimeout(() => reject(new Error('connection_ack not received within 30 s')), 30_000);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      reject(new Error(`closed with ${code} ${reason.toString()}`));
    });
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: authorization ? { authorization } : {} }));
    });
    socket.on('message', (raw: Buffer) => {
      if (acknowledged) return arrive(subscriber, eventOf(raw), raw);
      const message = JSON.parse(raw.toString('utf8')) as { type: string };
      if (message.type !== 'connection_ack') return;
      acknowledged = true;
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      clearTimeout(timer);
      resolve(subscriber);
    });
  });
}

async function connect(command: Extract<DriverCommand, { type: 'connect' }>): Promise<DriverReply> {
  let failed = 0;
  let error: string | undefined;
  const batch = 100;
  for (let start = 0; start < command.n; start += batch) {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(batch, command.n - start) }, () =>
        command.plain ? connectPlain(command.wsUrl) : connectOne(command.wsUrl, command.authorization, command.query),
      ),
    );
    for (const result of results) {
      if (result.status === 'fulfilled') subscribers.push(result.value);
      else {
        failed += 1;
        error ??= String(result.reason);
      }
    }
  }
  return { type: 'connected', open: subscribers.length, failed, ...(error ? { error } : {}) };
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function mutate(httpUrl: string, authorization: string | null, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${httpUrl}/graphql`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(authorization ? { authorization } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Each subscriber's latency for `event`, into `latenciesMs` (null: a warm-up event, forgotten). */
function collect(event: number, sentAt: bigint, latenciesMs: number[] | null): void {
  for (const subscriber of subscribers) {
    const arrived = subscriber.arrivals.get(event);
    if (arrived !== undefined && latenciesMs) latenciesMs.push(Number(arrived - sentAt) / 1e6);
    subscriber.arrivals.delete(event);
  }
}

async function publish(command: Extract<DriverCommand, { type: 'publish' }>): Promise<DriverReply> {
  const latenciesMs: number[] = [];
  const mutationMs: number[] = [];
  let mutationErrors = 0;
  for (let event = command.first; event < command.first + command.events; event += 1) {
    const body = JSON.stringify({ query: command.mutation, variables: { input: { id: command.itemId, stock: 1_000_000 + event } } });
    const all = new Promise<void>((resolve) => {
      waiting = { event, remaining: subscribers.length, resolve };
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, command.timeoutMs).unref());
    const sentAt = process.hrtime.bigint();
    const response = await mutate(command.httpUrl, command.authorization, body);
    if (command.measured) mutationMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    if (response.status !== 200 || response.body.includes('"errors":') || !response.body.includes('"userErrors":[]')) {
      mutationErrors += 1;
    }
    await Promise.race([all, timeout]);
    waiting = null;
    settle(false);
    collect(event, sentAt, command.measured ? latenciesMs : null);
  }
  mutationMs.sort((a, b) => a - b);
  return {
    type: 'published',
    latenciesMs,
    delivered: latenciesMs.length,
    expected: subscribers.length * command.events,
    badPayloads: subscribers.reduce((sum, subscriber) => sum + subscriber.bad, 0),
    mutationErrors,
    mutationMs: mutationMs[Math.floor(mutationMs.length / 2)] ?? 0,
    sample: sample?.toString('utf8') ?? null,
  };
}

/** The floor's control socket, opened once: the harness asks for its events one at a time, between OpsHub's. */
let control: Promise<WebSocket> | null = null;
function controlSocket(url: string): Promise<WebSocket> {
  return (control ??= new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  }));
}

/** The floor's events: each a request to broadcast `frame`, timed from sending it to each arrival. */
async function broadcast(command: Extract<DriverCommand, { type: 'broadcast' }>): Promise<DriverReply> {
  const control = await controlSocket(command.controlUrl);
  const latenciesMs: number[] = [];
  const serverWriteMs: number[] = [];
  const requestMs: number[] = [];
  for (let event = command.first; event < command.first + command.events; event += 1) {
    currentEvent = event;
    const all = new Promise<void>((resolve) => {
      waiting = { event, remaining: subscribers.length, resolve };
    });
    const answered = new Promise<void>((resolve) =>
      control.once('message', (raw: Buffer) => {
        if (command.measured) serverWriteMs.push((JSON.parse(raw.toString('utf8')) as { writeMs: number }).writeMs);
        resolve();
      }),
    );
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, command.timeoutMs).unref());
    const sentAt = process.hrtime.bigint();
    control.send(JSON.stringify({ frame: command.frame }));
    await answered;
    if (command.measured) requestMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    await Promise.race([all, timeout]);
    waiting = null;
    settle(true);
    collect(event, sentAt, command.measured ? latenciesMs : null);
  }
  requestMs.sort((a, b) => a - b);
  return {
    type: 'published',
    latenciesMs,
    delivered: latenciesMs.length,
    expected: subscribers.length * command.events,
    badPayloads: 0,
    mutationErrors: 0,
    mutationMs: requestMs[Math.floor(requestMs.length / 2)] ?? 0,
    sample: null,
    serverWriteMs,
  };
}

async function closeAll(): Promise<DriverReply> {
  await Promise.all(
    subscribers.map(
      (subscriber) =>
        new Promise<void>((resolve) => {
          if (subscriber.socket.readyState === WebSocket.CLOSED) return resolve();
          subscriber.socket.once('close', () => resolve());
          subscriber.socket.close(1000);
          setTimeout(() => {
            subscriber.socket.terminate();
            resolve();
          }, 5_000).unref();
        }),
    ),
  );
  subscribers.length = 0;
  sample = null;
  (await control)?.close();
  control = null;
  agent.destroy();
  return { type: 'closed' };
}

process.on('message', (command: DriverCommand) => {
  const handler =
    command.type === 'connect'
      ? connect(command)
      : command.type === 'publish'
        ? publish(command)
        : command.type === 'broadcast'
          ? broadcast(command)
          : closeAll();
  handler.then(send, (error: unknown) => {
    process.stderr.write(`fan-out driver failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
