/**
 * Subscription fan-out: N subscribers to `itemChanged` on one server, events published one at a time. Measures
 * publish-to-receive latency (from sending the publishing mutation, so it includes that mutation's UPDATE and round
 * trip, reported alongside), delivered/expected, and resident memory per idle subscribed connection: the server's
 * RSS after the N subscriptions are open and idle minus its RSS before, divided by N, both read after a full
 * garbage collection (so the difference is what the connections keep alive, not garbage not yet collected), and per
 * active subscription: the same after the events went out.
 *
 * The server's own publish-to-last-write per event comes from OpsHub's `opshub_realtime_fanout_seconds` (its mean
 * over the run, read from /metrics before and after). The floor row (`floor: true`) is a plain `ws` server
 * (bench/ws-floor.ts) broadcasting the bytes of one of OpsHub's `next` messages to as many sockets, its events taking
 * turns with OpsHub's, so that machine noise (another process, a busy core) falls on both alike.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { DriverCommand, DriverReply } from '../fanout-driver.js';
import { track, type Spawned } from './processes.js';
import { percentile } from './stats.js';

const DRIVER = fileURLToPath(new URL('../fanout-driver.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('../ws-floor.ts', import.meta.url));
/** The bench's candidates expose /metrics with this token (NODE_ENV=production needs one). */
export const BENCH_METRICS_TOKEN = 'bench-metrics-token';

export const SUBSCRIPTION = /* GraphQL */ `subscription ItemChanged { itemChanged { id sku name price stock updatedAt } }`;
export const UPDATE_ITEM = /* GraphQL */ `mutation Publish($input: UpdateItemInput!) {
  updateItem(input: $input) { item { id stock } userErrors { field message code } }
}`;

export interface FanoutResult {
  candidate: string;
  n: number;
  events: number;
  delivered: number;
  expected: number;
  p50: number;
  p99: number;
  max: number;
  mutationMs: number;
  rssPerConnectionBytes: number;
  /** Server VmRSS (bytes, after GC) before connecting and with the N subscriptions idle. */
  rssBeforeBytes: number;
  rssIdleBytes: number;
  /** RSS (bytes, after GC) once the events went out, over N: what an active subscription keeps. */
  rssPerActiveBytes: number;
  /** Server publish-to-last-write per event, mean over the run (ms); NaN when the server does not report it. */
  serverFanoutMs: number;
  /** One `next` message as a subscriber received it (the floor broadcasts the same bytes). */
  sample: string | null;
  failures: string[];
}

class Driver {
  private child: ChildProcess;
  private pending: ((reply: DriverReply) => void) | null = null;

  constructor() {
    this.child = fork(DRIVER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    track(this.child);
    this.child.on('message', (reply: DriverReply) => {
      const pending = this.pending;
      this.pending = null;
      pending?.(reply);
    });
  }

  ask<T extends DriverReply['type']>(command: DriverCommand, expect: T): Promise<Extract<DriverReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`fan-out driver exited (${code})`));
      this.child.once('exit', onExit);
      this.pending = (reply) => {
        this.child.off('exit', onExit);
        if (reply.type !== expect) reject(new Error(`fan-out driver answered ${reply.type}, expected ${expect}`));
        else resolve(reply as Extract<DriverReply, { type: T }>);
      };
      this.child.send(command);
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Longer than OpsHub takes to report a finished fan-out (src/server/ws.ts: quiet for 500 ms, checked every 500 ms). */
const FANOUT_REPORTED_MS = 1_100;

export async function runFanout(options: {
  server: Spawned;
  n: number;
  events: number;
  /** Events published unmeasured first (their fan-outs are not in the server's figure either). */
  warmup: number;
  authorization: string | null;
  itemId: string;
  /**
   * Also run the floor (a plain `ws` server broadcasting one of the server's `next` messages to as many sockets),
   * its events interleaved with the server's — one of each in turn — so both meet the machine in the same state.
   */
  floor?: boolean;
}): Promise<{ row: FanoutResult; floor: FanoutResult | null }> {
  const { server, n, events, warmup, authorization } = options;
  const failures: string[] = [];
  const driver = new Driver();
  const floor = options.floor ? new Floor(n) : null;
  try {
    const rssBefore = await server.rssAfterGc();
    const connected = await driver.ask(
      { type: 'connect', wsUrl: `${server.url.replace('http', 'ws')}/graphql`, n, authorization, query: SUBSCRIPTION },
      'connected',
    );
    if (connected.failed > 0) failures.push(`${connected.failed} of ${n} connections failed (${connected.error})`);
    // Let the subscribe messages land and the server go idle before reading its memory.
    await sleep(500);
    const rssIdle = await server.rssAfterGc();
    await floor?.connect();
    const publish = (first: number, count: number, measured: boolean) =>
      driver.ask(
        {
          type: 'publish',
          httpUrl: server.url,
          authorization,
          mutation: UPDATE_ITEM,
          itemId: options.itemId,
          first,
          events: count,
          measured,
          timeoutMs: 5_000,
        },
        'published',
      );
    const warmed = await publish(0, warmup, false);
    // The floor broadcasts the bytes of a steady-state `next` message (the warm-up's last), warmed up the same way.
    if (floor && warmed.sample) await floor.broadcast(warmed.sample, 0, warmup, false);
    // The server reports an event's fan-out once its writes have been quiet for half a second.
    await sleep(FANOUT_REPORTED_MS);
    const fanoutBefore = await fanoutSeconds(server.url);
    const replies: Published[] = [];
    if (floor && warmed.sample) {
      for (let event = warmup; event < warmup + events; event += 1) {
        replies.push(await publish(event, 1, true));
        await floor.broadcast(warmed.sample, event, 1, true);
      }
    } else replies.push(await publish(warmup, events, true));
    const published = merge(replies);
    if (published.badPayloads > 0) failures.push(`${published.badPayloads} error or malformed messages`);
    if (published.mutationErrors + warmed.mutationErrors > 0) {
      failures.push(`${published.mutationErrors + warmed.mutationErrors} publishing mutations failed`);
    }
    await sleep(FANOUT_REPORTED_MS);
    const fanoutAfter = await fanoutSeconds(server.url);
    const rssActive = await server.rssAfterGc();
    await driver.ask({ type: 'close' }, 'closed');
    const row: FanoutResult = {
      ...latencyFigures(server.id, n, events, published),
      rssPerConnectionBytes: (rssIdle - rssBefore) / n,
      rssBeforeBytes: rssBefore,
      rssIdleBytes: rssIdle,
      rssPerActiveBytes: (rssActive - rssBefore) / n,
      serverFanoutMs:
        fanoutBefore && fanoutAfter && fanoutAfter.count > fanoutBefore.count
          ? (1_000 * (fanoutAfter.sum - fanoutBefore.sum)) / (fanoutAfter.count - fanoutBefore.count)
          : Number.NaN,
      sample: published.sample,
      failures,
    };
    return { row, floor: floor ? await floor.result(events, warmed.sample === null) : null };
  } finally {
    driver.stop();
    floor?.stop();
  }
}

type Published = Extract<DriverReply, { type: 'published' }>;

/** One reply for events published in several commands (the driver's counts of bad payloads are running totals). */
function merge(replies: Published[]): Published {
  const mutationMs = replies.map((reply) => reply.mutationMs).sort((a, b) => a - b);
  const writes = replies.flatMap((reply) => reply.serverWriteMs ?? []);
  return {
    type: 'published',
    latenciesMs: replies.flatMap((reply) => reply.latenciesMs),
    delivered: replies.reduce((sum, reply) => sum + reply.delivered, 0),
    expected: replies.reduce((sum, reply) => sum + reply.expected, 0),
    badPayloads: replies.at(-1)?.badPayloads ?? 0,
    mutationErrors: replies.reduce((sum, reply) => sum + reply.mutationErrors, 0),
    mutationMs: mutationMs[Math.floor(mutationMs.length / 2)] ?? 0,
    sample: replies.at(-1)?.sample ?? null,
    ...(writes.length ? { serverWriteMs: writes } : {}),
  };
}

/** The delivery and latency columns of a row. */
function latencyFigures(candidate: string, n: number, events: number, published: Published) {
  const latencies = published.latenciesMs;
  return {
    candidate,
    n,
    events,
    delivered: published.delivered,
    expected: n * events,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies.reduce((a, b) => Math.max(a, b)) : Number.NaN,
    mutationMs: published.mutationMs,
  };
}

/** The sum and count of OpsHub's fan-out histogram, or null when the server has none. */
async function fanoutSeconds(url: string): Promise<{ sum: number; count: number } | null> {
  try {
    const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
    if (!response.ok) return null;
    const text = await response.text();
    const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const sum = read('opshub_realtime_fanout_seconds_sum');
    const count = read('opshub_realtime_fanout_seconds_count');
    return Number.isNaN(sum) || Number.isNaN(count) ? null : { sum, count };
  } catch {
    return null;
  }
}

/**
 * The floor: a plain `ws` server (bench/ws-floor.ts) and a driver of its own holding N plain sockets. Each event is
 * a request to broadcast a frame, timed from the request to each arrival; its "server" figure is its loop from the
 * request's arrival to the last write.
 */
class Floor {
  private readonly process = fork(FLOOR, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  private readonly driver = new Driver();
  private readonly failures: string[] = [];
  private readonly replies: Published[] = [];
  private port = 0;

  constructor(private readonly n: number) {
    track(this.process);
  }

  async connect(): Promise<void> {
    const [{ port }] = (await once(this.process, 'message')) as [{ port: number }];
    this.port = port;
    const connected = await this.driver.ask(
      { type: 'connect', wsUrl: `ws://127.0.0.1:${port}/`, n: this.n, authorization: null, query: '', plain: true },
      'connected',
    );
    if (connected.failed > 0) this.failures.push(`${connected.failed} of ${this.n} connections failed (${connected.error})`);
  }

  async broadcast(frame: string, first: number, events: number, measured: boolean): Promise<void> {
    const reply = await this.driver.ask(
      { type: 'broadcast', controlUrl: `ws://127.0.0.1:${this.port}/control`, frame, first, events, measured, timeoutMs: 5_000 },
      'published',
    );
    if (measured) this.replies.push(reply);
  }

  async result(events: number, noFrame: boolean): Promise<FanoutResult> {
    if (noFrame) this.failures.push('no `next` message to broadcast: the server delivered none in the warm-up');
    await this.driver.ask({ type: 'close' }, 'closed');
    const published = merge(this.replies);
    const writes = published.serverWriteMs ?? [];
    return {
      ...latencyFigures('ws-floor', this.n, events, published),
      rssPerConnectionBytes: Number.NaN,
      rssBeforeBytes: Number.NaN,
      rssIdleBytes: Number.NaN,
      rssPerActiveBytes: Number.NaN,
      serverFanoutMs: writes.length ? writes.reduce((a, b) => a + b, 0) / writes.length : Number.NaN,
      sample: null,
      failures: this.failures,
    };
  }

  stop(): void {
    this.driver.stop();
    this.process.disconnect();
  }
}
