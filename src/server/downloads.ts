/**
 * GET /exports/:id — the CSV of a finished EXPORT_ITEMS job, streamed, for its owner only.
 *
 * | case                                   | status |
 * |----------------------------------------|--------|
 * | no or invalid Bearer token             | 401    |
 * | not the owner, unknown, not finished   | 404    |
 * | the owner's finished export            | 200 `text/csv`, `content-disposition: attachment` |
 *
 * Anyone else gets the same 404 as for a job that does not exist, so the route does not reveal which ids exist.
 * The token rules are the GraphQL ones (the shared context builder); the job service decides what is served.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type ContextBuilder } from '../schema/context.js';
import { AuthenticationError } from '../auth/identity.js';
import type { JobService } from '../schema/job/job.service.js';

export function registerDownloads(fastify: FastifyInstance, deps: { contextBuilder: ContextBuilder; jobs: JobService }): void {
  fastify.get<{ Params: { id: string } }>('/exports/:id', async (request, reply) => {
    const unauthorized = () => reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Could not validate credentials' });
    let viewer;
    try {
      ({ viewer } = await deps.contextBuilder.authenticate(request.headers.authorization));
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      return unauthorized();
    }
    if (!viewer) return unauthorized();
    const file = await deps.jobs.exportFile(viewer, request.params.id);
    if (!file) return reply.code(404).send({ error: 'Export not found' });
    return reply
      .header('content-type', file.contentType)
      .header('content-disposition', `attachment; filename="${file.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .header('cache-control', 'private, no-store')
      .send(Readable.from(file.chunks));
  });
}
