/** A graphql-ws subscription whose events a test can wait for. */
import type { Client, FormattedExecutionResult as ExecutionResult } from 'graphql-ws';

export interface Collected<T = Record<string, any>> {
  events: ExecutionResult<T, unknown>[];
  errors: unknown[];
  completed: boolean;
  /** Resolves once `count` events arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ExecutionResult<T, unknown>[]>;
  /** Resolves when the server completes or errors the operation. */
  done(timeoutMs?: number): Promise<void>;
  dispose(): void;
}

/** Any client with graphql-ws's `subscribe(payload, sink)`: graphql-ws's own, or graphql-sse's. */
type Subscriber = Pick<Client, 'subscribe'>;

export function collect<T = Record<string, any>>(
  client: Subscriber,
  payload: { query: string; variables?: Record<string, unknown> },
): Collected<T> {
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((waiter) => waiter());
  const result: Collected<T> = {
    events: [],
    errors: [],
    completed: false,
    waitFor(count, timeoutMs = 5_000) {
      return until(() => result.events.length >= count, timeoutMs, `${count} events (got ${result.events.length})`).then(() => result.events);
    },
    done(timeoutMs = 5_000) {
      return until(() => result.completed || result.errors.length > 0, timeoutMs, 'completion');
    },
    dispose: () => {},
  };
  function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`Timed out waiting for ${what}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  }
  result.dispose = client.subscribe<T>(payload, {
    next: (value) => {
      result.events.push(value);
      notify();
    },
    error: (error) => {
      result.errors.push(error);
      notify();
    },
    complete: () => {
      result.completed = true;
      notify();
    },
  });
  return result;
}

/**
 * graphql-ws gives the client no signal that a subscription is registered with the pub/sub, so the trigger is
 * repeated until the first event arrives (each wait ends as soon as an event is there).
 */
export async function triggerUntilEvent(
  collected: { events: unknown[]; errors: unknown[]; waitFor(count: number, timeoutMs?: number): Promise<unknown> },
  trigger: () => Promise<void>,
  attempts = 40,
): Promise<void> {
  for (let attempt = 0; attempt < attempts && collected.events.length === 0 && collected.errors.length === 0; attempt += 1) {
    await trigger();
    await collected.waitFor(1, 250).catch(() => undefined);
  }
  if (collected.events.length === 0) throw new Error(`no event after ${attempts} triggers: ${JSON.stringify(collected.errors)}`);
}
