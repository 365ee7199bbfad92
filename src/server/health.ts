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
 * - 200 `degraded` when Redis does not answer or the job runner is down: queries and mutations still work (events
 *   stay in this process, jobs wait in their table), and taking every process out of the load balancer for it
 *   would turn a partial outage into a full one. The `checks` say which part is down.
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
    return reply.code(databaseUp ? 200 : 503).send({ status, database: database.kind, checks });
  });
}
