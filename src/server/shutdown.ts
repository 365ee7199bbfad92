/**
 * Graceful shutdown: the order matters. Jobs first (no new claims; running jobs finish or go back to PENDING while
 * the database is still open), then sockets (closed with 1001 Going Away) and event streams (ended), then HTTP
 * (drained), then what the services hold outside the database, the pub/sub and finally the database.
 */
import type { FastifyBaseLogger } from 'fastify';

export type ShutdownStep = () => Promise<void> | void;

/** Runs the steps in order, once; later calls return the same promise. */
export function shutdownSequence(steps: readonly ShutdownStep[]): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () =>
    (closing ??= (async () => {
      for (const step of steps) await step();
    })());
}

/**
 * SIGTERM and SIGINT stop the process gracefully: exit 0 once everything closed, 1 on an error or when the drain
 * outlives `graceMs` (a stuck drain must not keep the process alive).
 */
export function stopOnSignals(close: () => Promise<void>, log: FastifyBaseLogger, graceMs: number): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ graceMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, graceMs);
    deadline.unref();
    close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
