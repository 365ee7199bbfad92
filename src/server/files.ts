/**
 * The file routes: the staged-upload target and signed downloads. Neither reads an Authorization header: the
 * signature in the URL (src/storage/signing.ts) is the capability, checked before anything else happens.
 *
 * `PUT /files/uploads/:id?expires&sig` (the bytes as the body) or `POST` (multipart/form-data, one file part):
 *
 * | status | when |
 * |--------|------|
 * | 200    | stored: `{ "byteSize": n }`; next, `completeUpload` |
 * | 403    | no, a wrong or an expired signature, or the method the URL was not signed for |
 * | 410    | the URL was used already (single use), or its upload is gone |
 * | 413    | more bytes than declared (nothing is kept, the upload is gone) |
 * | 415    | a POST that is not multipart/form-data |
 *
 * `GET /files/:id/content?expires&sig` and `/files/:id/thumbnail?…`: 200 (or 206 for a satisfiable single
 * `Range: bytes=…`, 416 for an unsatisfiable one), 403 for a bad or expired signature, 404 for a file that is gone.
 * The body streams from storage; `content-type` is the type sniffed at completion (never HTML: only the allowed types
 * get stored), `x-content-type-options: nosniff`, and `content-disposition` is `inline` for images, `attachment` for
 * everything else, with the sanitized name.
 */
import { Readable } from 'node:stream';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { contentDisposition, IMAGE_TYPES } from '../schema/file/file-rules.js';
import type { FileService } from '../schema/file/file.service.js';
import { UploadMethod } from '../schema/file/file.type.js';
import { TooLargeError, type ByteRange } from '../storage/storage.js';

type Signed = { Params: { id: string }; Querystring: { expires?: string; sig?: string } };

/**
 * A single `bytes=` range of a resource of `size` bytes (RFC 9110 §14): the range, 'unsatisfiable', or null to
 * serve the whole resource (no header, a syntax this does not take, several ranges).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });

export async function registerFileRoutes(fastify: FastifyInstance, deps: { files: FileService; maxUploadBytes: number }): Promise<void> {
  await fastify.register(async (scope) => {
    // The body is streamed to storage by the handler, after the signature check: no parser reads it first.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    await scope.register(fastifyMultipart, { limits: { files: 1, fields: 10, parts: 11, fileSize: deps.maxUploadBytes + 1 } });

    scope.put<Signed>('/files/uploads/:id', async (request, reply) => {
      const outcome = await deps.files.receive(request.params.id, UploadMethod.PUT, request.query, () => request.raw);
      return answer(reply, outcome);
    });

    scope.post<Signed>('/files/uploads/:id', async (request, reply) => {
      const outcome = await deps.files
        .receive(request.params.id, UploadMethod.POST, request.query, async function* () {
          if (!request.isMultipart()) throw new NotMultipart();
          const part = await request.file();
          if (!part) throw new NotMultipart();
          yield* part.file;
          // busboy stops at its own limit and marks the part truncated instead of failing.
          if (part.file.truncated) throw new TooLargeError(deps.maxUploadBytes);
        })
        .catch((error: unknown) => {
          if (error instanceof NotMultipart) return null;
          throw error;
        });
      if (!outcome) return refuse(reply, 415, 'The body must be multipart/form-data with one file part');
      return answer(reply, outcome);
    });
  });

  for (const [path, action] of [
    ['/files/:id/content', 'file'],
    ['/files/:id/thumbnail', 'thumbnail'],
  ] as const) {
    fastify.get<Signed>(path, { compress: false }, async (request, reply) => {
      const found = await deps.files.signedFile(request.params.id, action, request.query);
      if (found.kind === 'forbidden') return refuse(reply, 403, found.message);
      if (found.kind === 'not-found') return refuse(reply, 404, 'File not found');
      const { file, key } = found;
      const size = action === 'file' ? file.byteSize : await deps.files.storage.size(key);
      if (size === null) return refuse(reply, 404, 'File not found');
      const contentType = action === 'file' ? file.contentType : 'image/webp';
      const image = (IMAGE_TYPES as readonly string[]).includes(contentType);
      void reply
        .header('content-type', contentType)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', contentDisposition(image ? 'inline' : 'attachment', file.filename))
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'private, max-age=60');
      const range = parseRange(request.headers.range, size);
      if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${size}`).send();
      if (range) {
        void reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
          .header('content-length', range.end - range.start + 1);
      } else void reply.header('content-length', size);
      // The whole file is read as its full range too: the stream ends with its last chunk, not one query later, so the
      // response has finished by the time the client holds every byte (a keep-alive socket is idle when it thinks so).
      return reply.send(Readable.from(deps.files.read(key, range ?? { start: 0, end: size - 1 })));
    });
  }
}

class NotMultipart extends Error {}

function answer(reply: FastifyReply, outcome: Awaited<ReturnType<FileService['receive']>>) {
  switch (outcome.kind) {
    case 'stored':
      return reply.code(200).send({ byteSize: outcome.byteSize });
    case 'forbidden':
      return refuse(reply, 403, outcome.message);
    case 'gone':
      return refuse(reply, 410, 'This upload URL was used already or its upload is gone');
    case 'too-large':
      return refuse(reply, 413, `More bytes than the ${outcome.maxBytes} declared`);
  }
}
