import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/client.js';
import type { RunnerHealth } from '../jobs/runner.js';

export interface HealthSources {
  database: DatabaseHandle;
  /** Set when REDIS_URL is: whether Redis answers. */
  redis?: () => Promise<boolean>;
  /** This process's job runner. */
  jobs?: () => RunnerHealth;
}

/**
 * `/healthz`: the process answers. `/readyz`: whether this process should get traffic, and what it depends on.
 *
 * - 503 `unavailable` when the database does not answer or a migration is missing: nothing works without it.
 * - 503 `degraded` when REDIS_URL is set and Redis does not answer. Queries and mutations still work, but this
 *   process is no longer part of the one server the processes form: events published elsewhere do not reach its
 *   subscribers, and its own do not leave it. The load balancer stops sending new connections until Redis answers
 *   again; the connections it has stay open.
 * - 200 `degraded` when the job runner is down or stopped: jobs wait in their table for another process (or for
 *   this one), so the process still serves.
 * - 200 `ready` otherwise.
 */
export function registerHealth(fastify: FastifyInstance, sources: HealthSources): void {
  const { database } = sources;
  fastify.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  fastify.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const [databaseUp, redisUp] = await Promise.all([database.ready(), sources.redis?.()]);
    const jobs = sources.jobs?.();
    const checks = {
      database: { status: databaseUp ? 'up' : 'down', kind: database.kind },
      ...(redisUp === undefined ? {} : { redis: { status: redisUp ? 'up' : 'down' } }),
      ...(jobs ? { jobs } : {}),
    };
    const degraded = redisUp === false || jobs?.status === 'down' || jobs?.status === 'stopped';
    const status = !databaseUp ? 'unavailable' : degraded ? 'degraded' : 'ready';
    return reply.code(databaseUp && redisUp !== false ? 200 : 503).send({ status, database: database.kind, checks });
  });
}
