import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/client.js';

/** `/healthz`: the process answers. `/readyz`: the database answers and every migration is applied (503 otherwise). */
export function registerHealth(fastify: FastifyInstance, database: DatabaseHandle): void {
  fastify.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  fastify.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    const ready = await database.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', database: database.kind });
  });
}
