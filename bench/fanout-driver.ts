/**
 * Fan-out driver, run as a child process of the harness (IPC): holds N graphql-ws subscribers (raw `ws`, speaking
 * graphql-transport-ws) and publishes events one at a time with an `updateItem` mutation, recording for every
 * subscriber the time from sending the mutation to receiving its `next` message. Timestamps are taken on arrival,
 * before parsing, with the monotonic clock.
 *
 * For the floor (bench/ws-floor.ts) it holds N plain sockets instead, and each event is a control message asking that
 * server to broadcast the bytes of a `next` frame OpsHub sent: the same bytes to the same number of sockets, timed
 * the same way, from the request to each arrival.
 */
import { Agent, request } from 'node:http';
import WebSocket from 'ws';

export type DriverCommand =
  | { type: 'connect'; wsUrl: string; n: number; authorization: string | null; query: string; plain?: boolean }
  | { type: 'publish'; httpUrl: string; authorization: string | null; mutation: string; itemId: string; events: number; timeoutMs: number }
  | { type: 'broadcast'; controlUrl: string; frame: string; events: number; timeoutMs: number }
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
      /** One `next` message as it arrived (the floor broadcasts the same bytes). */
      sample: string | null;
      /** Floor only: per event, the server's loop from the request's arrival to its last write. */
      serverWriteMs?: number[];
    }
  | { type: 'closed' };

interface Subscriber {
  socket: WebSocket;
  /** Event number → arrival time (ns, monotonic). */
  arrivals: Map<number, bigint>;
  bad: number;
}

const subscribers: Subscriber[] = [];
let sample: string | null = null;
/** Plain sockets (the floor): every message is the event being broadcast. */
let currentEvent = 0;
let waiting: { event: number; remaining: number; resolve: () => void } | null = null;

function send(reply: DriverReply): void {
  process.send!(reply);
}

function connectPlain(wsUrl: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, arrivals: new Map(), bad: 0 };
    socket.once('error', reject);
    socket.once('open', () => resolve(subscriber));
    socket.on('message', () => {
      const arrived = process.hrtime.bigint();
      subscriber.arrivals.set(currentEvent, arrived);
      if (waiting && waiting.event === currentEvent) {
        waiting.remaining -= 1;
        if (waiting.remaining === 0) waiting.resolve();
      }
    });
  });
}

function connectOne(wsUrl: string, authorization: string | null, query: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    const subscriber: Subscriber = { socket, arrivals: new Map(), bad: 0 };
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
      const arrived = process.hrtime.bigint();
      const message = JSON.parse(raw.toString('utf8')) as { type: string; payload?: any };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
        clearTimeout(timer);
        resolve(subscriber);
        return;
      }
      if (message.type !== 'next') {
        if (message.type === 'error' || message.type === 'complete') subscriber.bad += 1;
        return;
      }
      sample ??= raw.toString('utf8');
      const stock = message.payload?.data?.itemChanged?.stock;
      if (message.payload?.errors || typeof stock !== 'number') {
        subscriber.bad += 1;
        return;
      }
      const event = stock - 1_000_000;
      subscriber.arrivals.set(event, arrived);
      if (waiting && waiting.event === event) {
        waiting.remaining -= 1;
        if (waiting.remaining === 0) waiting.resolve();
      }
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

async function publish(command: Extract<DriverCommand, { type: 'publish' }>): Promise<DriverReply> {
  const latenciesMs: number[] = [];
  const mutationMs: number[] = [];
  let mutationErrors = 0;
  // Event 0 is not measured: it is each subscription's first result (the one carrying `extensions.cost`) and warms
  // the server's code paths; the floor gets the same unmeasured first broadcast.
  for (let event = 0; event <= command.events; event += 1) {
    const body = JSON.stringify({ query: command.mutation, variables: { input: { id: command.itemId, stock: 1_000_000 + event } } });
    const all = new Promise<void>((resolve) => {
      waiting = { event, remaining: subscribers.length, resolve };
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, command.timeoutMs).unref());
    const sentAt = process.hrtime.bigint();
    const response = await mutate(command.httpUrl, command.authorization, body);
    mutationMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    if (response.status !== 200 || response.body.includes('"errors":') || !response.body.includes('"userErrors":[]')) {
      mutationErrors += 1;
    }
    await Promise.race([all, timeout]);
    waiting = null;
    for (const subscriber of subscribers) {
      const arrived = subscriber.arrivals.get(event);
      if (arrived !== undefined && event > 0) latenciesMs.push(Number(arrived - sentAt) / 1e6);
      subscriber.arrivals.delete(event);
    }
    if (event === 0) mutationMs.pop();
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
    sample,
  };
}

/** The floor's events: each a request to broadcast `frame`, timed from sending it to each arrival. */
async function broadcast(command: Extract<DriverCommand, { type: 'broadcast' }>): Promise<DriverReply> {
  const control = new WebSocket(command.controlUrl, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    control.once('open', resolve);
    control.once('error', reject);
  });
  const latenciesMs: number[] = [];
  const serverWriteMs: number[] = [];
  const requestMs: number[] = [];
  for (let event = 0; event <= command.events; event += 1) {
    currentEvent = event;
    const all = new Promise<void>((resolve) => {
      waiting = { event, remaining: subscribers.length, resolve };
    });
    const answered = new Promise<void>((resolve) =>
      control.once('message', (raw: Buffer) => {
        serverWriteMs.push((JSON.parse(raw.toString('utf8')) as { writeMs: number }).writeMs);
        resolve();
      }),
    );
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, command.timeoutMs).unref());
    const sentAt = process.hrtime.bigint();
    control.send(JSON.stringify({ frame: command.frame }));
    await answered;
    requestMs.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    await Promise.race([all, timeout]);
    waiting = null;
    for (const subscriber of subscribers) {
      const arrived = subscriber.arrivals.get(event);
      if (arrived !== undefined && event > 0) latenciesMs.push(Number(arrived - sentAt) / 1e6);
      subscriber.arrivals.delete(event);
    }
    if (event === 0) {
      requestMs.pop();
      serverWriteMs.pop();
    }
  }
  control.close();
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
