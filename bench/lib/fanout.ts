/**
 * Subscription fan-out: N subscribers to `itemChanged` on one server, events published one at a time. Measures
 * publish-to-receive latency (from sending the publishing mutation, so it includes that mutation's UPDATE and round
 * trip, reported alongside), delivered/expected, and resident memory per idle subscribed connection: the server's
 * RSS after the N subscriptions are open and idle minus its RSS before, divided by N, both read after a full
 * garbage collection (so the difference is what the connections keep alive, not garbage not yet collected).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverCommand, DriverReply } from '../fanout-driver.js';
import { track, type Spawned } from './processes.js';
import { percentile } from './stats.js';

const DRIVER = fileURLToPath(new URL('../fanout-driver.ts', import.meta.url));

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

export async function runFanout(options: {
  server: Spawned;
  n: number;
  events: number;
  authorization: string | null;
  itemId: string;
}): Promise<FanoutResult> {
  const { server, n, events, authorization } = options;
  const failures: string[] = [];
  const driver = new Driver();
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
    const published = await driver.ask(
      { type: 'publish', httpUrl: server.url, authorization, mutation: UPDATE_ITEM, itemId: options.itemId, events, timeoutMs: 5_000 },
      'published',
    );
    if (published.badPayloads > 0) failures.push(`${published.badPayloads} error or malformed messages`);
    if (published.mutationErrors > 0) failures.push(`${published.mutationErrors} publishing mutations failed`);
    await driver.ask({ type: 'close' }, 'closed');
    const latencies = published.latenciesMs;
    return {
      candidate: server.id,
      n,
      events,
      delivered: published.delivered,
      expected: n * events,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.length ? latencies.reduce((a, b) => Math.max(a, b)) : Number.NaN,
      mutationMs: published.mutationMs,
      rssPerConnectionBytes: (rssIdle - rssBefore) / n,
      rssBeforeBytes: rssBefore,
      rssIdleBytes: rssIdle,
      failures,
    };
  } finally {
    driver.stop();
  }
}
