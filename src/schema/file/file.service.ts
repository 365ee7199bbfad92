import { createHash, randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { Authentication } from '../../auth/identity.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import type { FileRow, UploadRow } from '../../db/tables.js';
import type { SignedAction, UrlSigner } from '../../storage/signing.js';
import { TooLargeError, type ByteRange, type ObjectStorage } from '../../storage/storage.js';
import { parseGlobalId, toGlobalId } from '../shared/global-id.js';
import type { DeletePayload } from '../shared/payloads.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import { ALLOWED_TYPES, checkFilename, TEXT_TYPES } from './file-rules.js';
import type { CreateUploadInput } from './file.input.js';
import type { FileRepo } from './file.repo.js';
import { StoredFile, UploadMethod, type CreateUploadPayload, type FilePayload } from './file.type.js';

/** Staff scope: read and delete anyone's files. */
export const MANAGE_FILES = 'files:delete';

/** Bytes `file-type` needs to recognise every type it knows. */
const SNIFF_BYTES = 4_100;

export interface FileServiceDeps {
  db: Database;
  repo: FileRepo;
  storage: ObjectStorage;
  signer: UrlSigner;
  config: Config['files'];
}

/** What became of the bytes sent to an upload URL; the upload route answers with the matching status. */
export type ReceiveOutcome =
  { kind: 'stored'; byteSize: number } | { kind: 'forbidden'; message: string } | { kind: 'gone' } | { kind: 'too-large'; maxBytes: number };

/** The file a signed download URL names, or why there is none. */
export type SignedFile = { kind: 'file'; file: FileRow; key: string } | { kind: 'forbidden'; message: string } | { kind: 'not-found' };

interface Measured {
  byteSize: number;
  sha256: string;
  head: Buffer;
  /** Valid UTF-8 without NUL: plausible text. */
  text: boolean;
}

const normalizedType = (value: string) => value.split(';')[0]!.trim().toLowerCase();

/**
 * Staged uploads and files: the declaration is checked when the upload is created, the bytes when it is completed
 * (real size, SHA-256, type sniffed from them); a refused upload leaves nothing stored. Ownership: a user reads and
 * deletes their own files; `files:delete` (staff) anyone's.
 */
export class FileService {
  constructor(private readonly deps: FileServiceDeps) {}

  get storage(): ObjectStorage {
    return this.deps.storage;
  }

  /** Who may read a file (its `node`, its fields and its URLs): the uploader and staff. */
  visible(auth: Authentication, row: Pick<FileRow, 'ownerId'>): boolean {
    const viewerId = auth.viewer?.id;
    if (!viewerId) return false;
    return row.ownerId === viewerId || auth.scopes.has(MANAGE_FILES);
  }

  async createUpload(auth: Authentication, input: CreateUploadInput): Promise<CreateUploadPayload> {
    const viewerId = auth.viewer!.id;
    const errors = new UserErrors();
    const name = checkFilename(input.filename);
    if (!name.ok) errors.add(['input', 'filename'], name.message);
    const contentType = normalizedType(input.contentType);
    if (!ALLOWED_TYPES[input.purpose].includes(contentType)) {
      errors.add(
        ['input', 'contentType'],
        `Content type ${contentType.slice(0, 100)} is not allowed for ${input.purpose}; allowed: ${ALLOWED_TYPES[input.purpose].join(', ')}`,
      );
    }
    const maxBytes = this.deps.config.maxBytes[input.purpose];
    if (!Number.isInteger(input.byteSize) || input.byteSize < 1) errors.add(['input', 'byteSize'], 'File must not be empty');
    else if (input.byteSize > maxBytes) {
      errors.add(['input', 'byteSize'], `File must be at most ${maxBytes} bytes`, UserErrorCode.LIMIT_EXCEEDED);
    } else if ((await this.deps.repo.usedBytes(viewerId)) + input.byteSize > this.deps.config.userQuotaBytes) {
      errors.add(['input', 'byteSize'], `Storage quota of ${this.deps.config.userQuotaBytes} bytes exceeded`, UserErrorCode.LIMIT_EXCEEDED);
    }
    if (errors.any || !name.ok) return { upload: null, userErrors: errors.list };

    const method = input.method ?? UploadMethod.PUT;
    const id = randomUUID();
    const ttl = this.deps.config.uploadUrlTtlSeconds;
    const storageKey = `files/${id}`;
    const direct = method === UploadMethod.PUT ? await this.deps.storage.directUpload(storageKey, contentType, input.byteSize, ttl) : null;
    const globalId = toGlobalId('Upload', id);
    const signed = this.deps.signer.sign(`/files/uploads/${globalId}`, { action: 'upload', method, id }, ttl);
    await this.deps.repo.insertUpload({
      id,
      ownerId: viewerId,
      purpose: input.purpose,
      filename: name.filename,
      displayName: name.displayName,
      contentType,
      byteSize: input.byteSize,
      method,
      storageKey,
      expiresAt: signed.expiresAt,
    });
    return {
      upload: {
        id: globalId,
        url: direct?.url ?? signed.url,
        method,
        headers: direct?.headers ?? (method === UploadMethod.PUT ? { 'content-type': contentType } : {}),
        expiresAt: signed.expiresAt,
      },
      userErrors: [],
    };
  }

  /**
   * The bytes sent to an upload URL. The signature is checked, then the URL's single use is claimed, before a byte is
   * read; more bytes than declared stop the transfer (413) and what arrived is deleted with the upload.
   */
  async receive(
    uploadGlobalId: string,
    method: UploadMethod,
    query: { expires?: unknown; sig?: unknown },
    body: () => AsyncIterable<Uint8Array>,
  ): Promise<ReceiveOutcome> {
    const id = parseGlobalId(uploadGlobalId, 'Upload');
    if (!id) return { kind: 'forbidden', message: 'Invalid upload URL' };
    const check = this.deps.signer.verify({ action: 'upload', method, id }, query);
    if (check === 'invalid') return { kind: 'forbidden', message: 'Invalid upload URL' };
    if (check === 'expired') return { kind: 'forbidden', message: 'Upload URL expired' };
    const upload = await this.deps.repo.claimUpload(id, new Date());
    if (!upload) return { kind: 'gone' };
    try {
      const byteSize = await this.deps.storage.write(upload.storageKey, body(), upload.byteSize);
      await this.deps.repo.markReceived(id);
      return { kind: 'stored', byteSize };
    } catch (error) {
      await this.discard(upload);
      if (error instanceof TooLargeError) return { kind: 'too-large', maxBytes: upload.byteSize };
      throw error;
    }
  }

  /** Verifies what arrived and turns it into a file; on any refusal the upload and its bytes are gone. */
  async completeUpload(auth: Authentication, uploadGlobalId: string): Promise<FilePayload> {
    const notFound = () => ({ file: null, userErrors: [userError(['id'], 'Upload not found', UserErrorCode.NOT_FOUND)] });
    const id = parseGlobalId(uploadGlobalId, 'Upload');
    const upload = id && (await this.deps.repo.findUpload(id));
    if (!upload || upload.ownerId !== auth.viewer!.id) return notFound();
    // Bytes sent straight to the backend (a presigned S3 PUT) never pass through the upload route.
    const direct = upload.status === 'PENDING' && (await this.deps.storage.size(upload.storageKey)) !== null;
    if (upload.status !== 'RECEIVED' && !direct) {
      return { file: null, userErrors: [userError(['id'], 'The upload has not received its bytes yet')] };
    }
    const refuse = async (message: string, code = UserErrorCode.INVALID) => {
      await this.discard(upload);
      return { file: null, userErrors: [userError(['id'], message, code)] };
    };
    const measured = await this.measure(upload.storageKey, upload.byteSize);
    if (measured.byteSize !== upload.byteSize) {
      return refuse(`The upload has ${measured.byteSize} bytes, not the ${upload.byteSize} declared`);
    }
    const found = await this.sniff(measured);
    // Plain text may be declared as any of the text types (CSV is text without a signature of its own).
    const sniffed = found === 'text/plain' && TEXT_TYPES.has(upload.contentType) ? upload.contentType : found;
    if (!sniffed || sniffed !== upload.contentType) {
      return refuse(`The bytes are ${sniffed ? `of type ${sniffed}` : 'of no recognised type'}, not ${upload.contentType}`);
    }
    if ((await this.deps.repo.usedBytes(upload.ownerId)) + measured.byteSize > this.deps.config.userQuotaBytes) {
      return refuse(`Storage quota of ${this.deps.config.userQuotaBytes} bytes exceeded`, UserErrorCode.LIMIT_EXCEEDED);
    }
    const row = await this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      // Deleting the upload row is the completion's claim: of two concurrent completions, one finds it gone.
      if (!(await repo.takeUpload(upload.id, direct ? ['PENDING'] : ['RECEIVED']))) return null;
      return repo.insertFile({
        ownerId: upload.ownerId,
        purpose: upload.purpose,
        filename: upload.filename,
        displayName: upload.displayName,
        contentType: sniffed,
        byteSize: measured.byteSize,
        sha256: measured.sha256,
        storageKey: upload.storageKey,
      });
    });
    if (!row) return notFound();
    return { file: StoredFile.fromRow(row), userErrors: [] };
  }

  async deleteFile(auth: Authentication, globalId: string): Promise<DeletePayload> {
    const notFound = { deletedId: null, userErrors: [userError(['id'], 'File not found', UserErrorCode.NOT_FOUND)] };
    const id = parseGlobalId(globalId, 'File');
    const [row] = id ? await this.deps.repo.findFilesByIds([id]) : [];
    if (!row || !this.visible(auth, row)) return notFound;
    const deleted = await this.deps.repo.deleteFile(row.id);
    if (!deleted) return notFound;
    await this.deps.storage.delete(deleted.thumbnailKey ? [deleted.storageKey, deleted.thumbnailKey] : [deleted.storageKey]);
    return { deletedId: globalId, userErrors: [] };
  }

  /** The signed download URL of a file (or its thumbnail), valid for FILE_URL_TTL_SECONDS. */
  signedUrl(file: Pick<StoredFile, 'id' | 'rowId'>, action: Extract<SignedAction, 'file' | 'thumbnail'>): string {
    const path = `/files/${file.id}/${action === 'file' ? 'content' : 'thumbnail'}`;
    return this.deps.signer.sign(path, { action, method: 'GET', id: file.rowId }, this.deps.config.downloadUrlTtlSeconds).url;
  }

  /** The file a signed download URL names, checked: signature, expiry, and that the file (or thumbnail) exists. */
  async signedFile(
    globalId: string,
    action: Extract<SignedAction, 'file' | 'thumbnail'>,
    query: { expires?: unknown; sig?: unknown },
  ): Promise<SignedFile> {
    const id = parseGlobalId(globalId, 'File');
    if (!id) return { kind: 'not-found' };
    const check = this.deps.signer.verify({ action, method: 'GET', id }, query);
    if (check !== 'valid') return { kind: 'forbidden', message: check === 'expired' ? 'Download URL expired' : 'Invalid download URL' };
    const [file] = await this.deps.repo.findFilesByIds([id]);
    const key = action === 'file' ? file?.storageKey : file?.thumbnailKey;
    return file && key ? { kind: 'file', file, key } : { kind: 'not-found' };
  }

  read(key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    return this.deps.storage.read(key, range);
  }

  /** Size, SHA-256 and the first bytes, read from storage (never more than one byte past `limit`). */
  private async measure(key: string, limit: number): Promise<Measured> {
    const hash = createHash('sha256');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const head: Buffer[] = [];
    let headBytes = 0;
    let byteSize = 0;
    let text = true;
    for await (const chunk of this.deps.storage.read(key)) {
      byteSize += chunk.length;
      hash.update(chunk);
      if (headBytes < SNIFF_BYTES) {
        head.push(Buffer.from(chunk.subarray(0, SNIFF_BYTES - headBytes)));
        headBytes += Math.min(chunk.length, SNIFF_BYTES - headBytes);
      }
      if (text) {
        try {
          decoder.decode(chunk, { stream: true });
          if (chunk.includes(0)) text = false;
        } catch {
          text = false;
        }
      }
      if (byteSize > limit) break;
    }
    return { byteSize, sha256: hash.digest('hex'), head: Buffer.concat(head), text };
  }

  /**
   * The content type of the bytes, never the name's or the header's. Text has no signature: it is text/plain (or the
   * declared text/csv) only when it is UTF-8 without NUL and does not start like markup a browser would render.
   */
  private async sniff(measured: Measured): Promise<string | null> {
    const detected = await fileTypeFromBuffer(measured.head);
    if (detected) return detected.mime;
    if (!measured.text) return null;
    const start = measured.head.toString('utf8', 0, 512).trimStart().toLowerCase();
    if (/^<(!doctype|html|head|body|script|svg|\?xml|iframe|!--)/.test(start)) return 'text/html';
    return 'text/plain';
  }

  /** An upload that will not become a file: its row and whatever bytes it stored. */
  private async discard(upload: UploadRow): Promise<void> {
    await this.deps.storage.delete([upload.storageKey]);
    await this.deps.repo.deleteUpload(upload.id);
  }
}
