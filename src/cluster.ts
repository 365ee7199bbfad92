/**
 * WORKERS > 1: this process is the node:cluster primary and serves nothing itself. It forks the workers, each a full
 * OpsHub listening on the same port (on Linux the primary accepts the connections and hands them to the workers in
 * turn), restarts one that dies after start-up with a back-off, and on SIGTERM/SIGINT forwards the signal and exits
 * once every worker has stopped gracefully (src/server/shutdown.ts). main.ts prepares the database before calling
 * `runPrimary`, so the workers never race each other for migrations or demo data.
 *
 * Worker output is relayed line by line: each worker writes its JSON log lines to its own pipe and the primary copies
 * whole lines to its standard output, so lines of two workers never interleave mid-line.
 */
import cluster, { type Worker } from 'node:cluster';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import type { Logger } from './log.js';

/** First restart delay of a worker that died; doubled for each further death in a row, up to RESTART_MAX_MS. */
const RESTART_BASE_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before it died starts the back-off over. */
const STABLE_MS = 60_000;
/** What the primary gives the workers beyond their own SHUTDOWN_GRACE_MS before it kills them. */
const EXIT_MARGIN_MS = 2_000;

const READY = 'opshub:ready';

interface ReadyMessage {
  type: typeof READY;
  url: string;
}

const isReady = (message: unknown): message is ReadyMessage =>
  typeof message === 'object' && message !== null && (message as ReadyMessage).type === READY;

/** In a worker: tells the primary this worker listens (no-op outside a cluster). */
export function reportReady(url: string): void {
  if (cluster.isWorker) process.send?.({ type: READY, url } satisfies ReadyMessage);
}

export interface PrimaryOptions {
  workers: number;
  /** The workers' SHUTDOWN_GRACE_MS. */
  graceMs: number;
  log: Logger;
  /** Variables added to every worker's environment. */
  env?: Record<string, string>;
  /** Once, when every worker of the first start reported ready. */
  onReady(url: string): void;
}

/** Chunks cut at line ends: a partial last line waits for the rest of it (or the end of the stream). */
function wholeLines(): Transform {
  let partial = '';
  return new Transform({
    decodeStrings: false,
    encoding: 'utf8',
    transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback) {
      const text = partial + chunk.toString();
      const end = text.lastIndexOf('\n') + 1;
      partial = text.slice(end);
      callback(null, end > 0 ? text.slice(0, end) : undefined);
    },
    flush(callback: TransformCallback) {
      callback(null, partial ? `${partial}\n` : undefined);
    },
  });
}

function relay(from: Readable | null | undefined, to: Writable): void {
  from?.pipe(wholeLines()).pipe(to, { end: false });
}

export function runPrimary(options: PrimaryOptions): void {
  const { log } = options;
  // The workers run this same entry point with the same node options (tsx, source maps); their output comes here.
  cluster.setupPrimary({ stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });

  /** Per worker slot: consecutive early deaths (the back-off exponent) and a pending restart. */
  const slots = Array.from({ length: options.workers }, () => ({ failures: 0, timer: null as NodeJS.Timeout | null }));
  const live = new Map<Worker, { slot: number; startedAt: number; ready: boolean }>();
  /** Each worker's output fully relayed (its pipes closed): the primary exits only after the last lines are out. */
  const relayed: Array<Promise<void>> = [];
  let started = false;
  let stopping = false;
  let failed = false;

  const fork = (slot: number) => {
    slots[slot]!.timer = null;
    const worker = cluster.fork(options.env);
    live.set(worker, { slot, startedAt: Date.now(), ready: false });
    relayed.push(new Promise((resolve) => worker.process.once('close', () => resolve())));
    relay(worker.process.stdout, process.stdout);
    relay(worker.process.stderr, process.stderr);
    worker.on('message', (message: unknown) => {
      const state = live.get(worker);
      if (!isReady(message) || !state || state.ready) return;
      state.ready = true;
      if (!started && [...live.values()].filter((entry) => entry.ready).length === options.workers) {
        started = true;
        options.onReady(message.url);
      }
    });
  };

  const exit = (code: number) => void Promise.all(relayed).then(() => process.exit(code));

  const stop = (exitCode: number) => {
    stopping = true;
    if (exitCode !== 0) failed = true;
    for (const slot of slots) if (slot.timer) clearTimeout(slot.timer);
    for (const worker of live.keys()) worker.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      log.error({ graceMs: options.graceMs }, 'workers outlived their graceful shutdown; killing them');
      for (const worker of live.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, options.graceMs + EXIT_MARGIN_MS);
    deadline.unref();
    if (live.size === 0) exit(exitCode);
  };

  cluster.on('exit', (worker, code, signal) => {
    const state = live.get(worker);
    live.delete(worker);
    if (!state) return;
    if (stopping) {
      // A worker still starting when the signal came has nothing to drain yet and dies of it: that is a clean stop too.
      if (code !== 0 && signal !== 'SIGTERM') failed = true;
      if (live.size === 0) {
        log.info('stopped');
        exit(failed ? 1 : 0);
      }
      return;
    }
    if (!started) {
      // A worker that cannot start (a bad key, a port in use) will not start on the next try either: stop them all.
      log.error({ worker: worker.id, code, signal }, 'a worker failed to start; stopping the others');
      stop(1);
      return;
    }
    const slot = slots[state.slot]!;
    if (Date.now() - state.startedAt >= STABLE_MS) slot.failures = 0;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** slot.failures);
    slot.failures += 1;
    log.error({ worker: worker.id, code, signal, restartInMs: delayMs }, 'worker died; restarting it');
    slot.timer = setTimeout(() => fork(state.slot), delayMs);
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    log.info({ signal, workers: live.size }, 'shutting down');
    stop(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  log.info({ workers: options.workers }, 'starting workers');
  for (let slot = 0; slot < options.workers; slot++) fork(slot);
}
