/**
 * The S3-compatible backend (`FILE_STORAGE=s3`): one object per key in S3_BUCKET. Clients upload straight to the
 * bucket through a presigned PUT (signed for the declared content type and length, valid UPLOAD_URL_TTL_SECONDS);
 * downloads still go through OpsHub's signed route, which streams the object (ranges passed through as S3 ranges),
 * so the content type, `content-disposition` and `nosniff` are OpsHub's, not whatever the bucket would send.
 *
 * A presigned PUT cannot be made single-use: it works until it expires. `completeUpload` therefore copies the
 * upload's object to the file's own key and verifies the copy, so a second PUT to the old URL writes to an object
 * nobody reads (and the clean-up removes).
 */
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Config } from '../config.js';
import { TooLargeError, type ByteRange, type DirectUpload, type ObjectStorage } from './storage.js';

const notFound = (error: unknown) =>
  error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NoSuchKey' || error.name === 'NotFound');

export class S3Storage implements ObjectStorage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint ?? undefined,
      forcePathStyle: config.forcePathStyle,
      credentials:
        config.accessKeyId && config.secretAccessKey
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined,
    });
  }

  /** Bytes written by OpsHub itself (thumbnails, multipart uploads): buffered up to `maxBytes`, then one PUT. */
  async write(key: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<number> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const part of source) {
      total += part.length;
      if (total > maxBytes) throw new TooLargeError(maxBytes);
      parts.push(part);
    }
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.concat(parts), ContentLength: total }));
    return total;
  }

  async *read(key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    let body: Readable;
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      body = object.Body as Readable;
    } catch (error) {
      if (notFound(error)) return;
      throw error;
    }
    yield* body;
  }

  async size(key: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (notFound(error)) return null;
      throw error;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async copy(from: string, to: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: to,
        CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
      }),
    );
  }

  async directUpload(key: string, contentType: string, byteSize: number, expiresInSeconds: number): Promise<DirectUpload> {
    const command = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType, ContentLength: byteSize });
    const url = await getSignedUrl(this.client, command, { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-type']) });
    return { url, method: 'PUT', headers: { 'content-type': contentType } };
  }

  close(): void {
    this.client.destroy();
  }
}
