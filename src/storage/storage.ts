/**
 * Where file bytes live, behind one small interface with two backends: PostgreSQL chunk rows (the default,
 * src/storage/postgres.ts) and S3-compatible object storage. Objects are written once and read as streams, whole or
 * by byte range; the file and upload rows that name them live in the files domain.
 */

/** An inclusive byte range, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Where a client sends an upload's bytes when the backend takes them directly (a presigned S3 URL). */
export interface DirectUpload {
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
}

export interface ObjectStorage {
  readonly kind: 'postgres' | 's3';
  /**
   * Stores the stream under `key`, refusing it (TooLargeError, nothing kept) once it passes `maxBytes`. Resolves to
   * the number of bytes stored.
   */
  write(key: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<number>;
  /** The object's bytes, or the given range of them; empty when the object does not exist. */
  read(key: string, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** The object's size, or null when it does not exist. */
  size(key: string): Promise<number | null>;
  delete(keys: readonly string[]): Promise<void>;
  /** Copies an object to another key (replacing what was there). */
  copy(from: string, to: string): Promise<void>;
  /** A presigned URL the client uploads to directly; null when uploads go through OpsHub's own route. */
  /** Releases connections the backend holds (S3's HTTP agent). */
  close?(): void;
  directUpload(key: string, contentType: string, byteSize: number, expiresInSeconds: number): Promise<DirectUpload | null>;
}

export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`More than ${maxBytes} bytes`);
    this.name = 'TooLargeError';
  }
}

/** Re-chunks a stream into pieces of exactly `size` bytes (the last one shorter). */
export async function* fixedChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(size - pendingBytes, piece.length - offset);
      pending.push(piece.subarray(offset, offset + take));
      pendingBytes += take;
      offset += take;
      if (pendingBytes === size) {
        yield Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}
