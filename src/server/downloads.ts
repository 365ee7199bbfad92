/**
 * GET /exports/:id — the CSV of a finished EXPORT_ITEMS job, streamed, for its owner only.
 *
 * | case                                   | status |
 * |----------------------------------------|--------|
 * | `?expires&sig` signed for this job (`Job.resultUrl`), no header needed | 200, as for the owner |
 * | a signature that is wrong or expired   | 403    |
 * | no or invalid Bearer token             | 401    |
 * | not the owner, unknown, not finished   | 404    |
 * | the owner's finished export            | 200 `text/csv`, `content-disposition: attachment` |
 *
 * Anyone else gets the same 404 as for a job that does not exist, so the route does not reveal which ids exist.
 * The token rules are the GraphQL ones (the shared context builder); the job service decides what is served.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ContextBuilder } from '../schema/context.js';
import { AuthenticationError } from '../auth/identity.js';
import type { ExportFile, JobService } from '../schema/job/job.service.js';
import type { FileService } from '../schema/file/file.service.js';

export function registerDownloads(
  fastify: FastifyInstance,
  deps: { contextBuilder: ContextBuilder; jobs: JobService; files: FileService },
): void {
  fastify.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>('/exports/:id', async (request, reply) => {
    if (request.query.sig !== undefined) {
      const check = deps.files.verifyExport(request.params.id, request.query);
      if (check !== 'valid') return reply.code(403).send({ error: check === 'expired' ? 'Download URL expired' : 'Invalid download URL' });
      const file = await deps.jobs.exportFile('signed', request.params.id);
      return file ? sendExport(reply, file) : reply.code(404).send({ error: 'Export not found' });
    }
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
    return sendExport(reply, file);
  });
}

function sendExport(reply: FastifyReply, file: ExportFile) {
  return reply
    .header('content-type', file.contentType)
    .header('content-disposition', `attachment; filename="${file.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
    .header('cache-control', 'private, no-store')
    .send(Readable.from(file.chunks));
}
