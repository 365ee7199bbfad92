/**
 * FILE_PROCESSING, queued by `completeUpload` for every image: its dimensions and a WebP thumbnail of at most
 * THUMBNAIL_PX a side (`sharp`), with progress on `jobUpdated`. The seed's rule: the user must own the file.
 */
import sharp from 'sharp';
import { toGlobalId, decodeGlobalId } from '../../schema/shared/global-id.js';
import type { FileRepo } from '../../schema/file/file.repo.js';
import { IMAGE_TYPES } from '../../schema/file/file-rules.js';
import type { ObjectStorage } from '../../storage/storage.js';
import { paramsObject, text } from '../params.js';
import { JobPriority, PermanentJobError, type JobDefinition } from '../types.js';

export const THUMBNAIL_PX = 256;

/** The most pixels sharp decodes (a "decompression bomb" of a few KB otherwise expands to gigabytes). */
const MAX_INPUT_PIXELS = 50_000_000;

export const thumbnailKey = (fileId: string) => `thumbnails/${fileId}`;

export function fileProcessing(deps: { files: FileRepo; storage: ObjectStorage }): JobDefinition<{ fileId: string }> {
  return {
    kind: 'FILE_PROCESSING',
    priority: JobPriority.NORMAL,
    scopes: ['files:write'],
    forbiddenMessage: 'User does not have access to this file',
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['fileId']);
      const fileId = text(params, 'fileId', errors, path, { label: 'File id', min: 1, max: 200, required: true });
      const decoded = fileId ? decodeGlobalId(fileId) : null;
      if (fileId && decoded?.type !== 'File') errors.add([...path, 'fileId'], 'File id must be the id of a File');
      // Stored as given: the runner parses the stored parameters again when the job starts.
      return { fileId: fileId ?? '' };
    },
    async run({ params, owner, progress }) {
      const rowId = decodeGlobalId(params.fileId)?.id;
      const [file] = rowId ? await deps.files.findFilesByIds([rowId]) : [];
      if (!file || (owner && file.ownerId !== owner.id && !owner.scopes.has('files:delete'))) {
        throw new PermanentJobError('User does not have access to this file');
      }
      const fileId = toGlobalId('File', file.id);
      if (!(IMAGE_TYPES as readonly string[]).includes(file.contentType)) {
        return { fileId, processingType: 'none', processedAt: new Date().toISOString(), result: null };
      }
      const parts: Uint8Array[] = [];
      for await (const chunk of deps.storage.read(file.storageKey)) parts.push(chunk);
      await progress(30);
      const bytes = Buffer.concat(parts);
      let width: number;
      let height: number;
      let thumbnail: Buffer;
      try {
        const metadata = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
        width = metadata.width;
        height = metadata.height;
        await progress(50);
        thumbnail = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, animated: false })
          .rotate()
          .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 80 })
          .toBuffer();
      } catch {
        throw new PermanentJobError('The image could not be decoded');
      }
      await progress(80);
      const key = thumbnailKey(file.id);
      // A retried attempt may have stored part of it before.
      await deps.storage.delete([key]);
      await deps.storage.write(key, [thumbnail], thumbnail.length);
      const updated = await deps.files.setImageDetails(file.id, { width, height, thumbnailKey: key });
      if (!updated) {
        await deps.storage.delete([key]);
        throw new PermanentJobError('The file was deleted');
      }
      return {
        fileId,
        processingType: 'image',
        processedAt: new Date().toISOString(),
        result: { width, height, thumbnailBytes: thumbnail.length },
      };
    },
  };
}
