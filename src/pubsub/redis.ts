/** Small helpers for the process's ioredis connections (pub/sub, rate-limit store). */
import type { Redis } from 'ioredis';

const PING_TIMEOUT_MS = 1_000;

/**
 * The connection is up (or comes up) and Redis answers a PING, all within PING_TIMEOUT_MS. A connection in
 * subscriber mode answers PING differently; its being ready is the check.
 */
export async function answersPing(client: Redis): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
  // A connection still (re)connecting would queue the PING: wait for it to be ready, within the same second.
  const ready = client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', (onReady = resolve)));
  try {
    const answered = ready.then(async () => client.mode === 'subscriber' || (await client.ping()) === 'PONG');
    return await Promise.race([answered, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    if (onReady) client.off('ready', onReady);
  }
}

/**
 * Closes a connection: QUIT when it is up (pending replies arrive first), a plain disconnect when it is not (a QUIT
 * would wait for a reconnect that may never come, or fail at once without an offline queue).
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
    return;
  }
  client.disconnect();
}
