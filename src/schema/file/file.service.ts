import { createHash, randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { Authentication } from '../../auth/identity.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import type { FileRow, PostRow, TaskRow, UploadRow } from '../../db/tables.js';
import type { JobQueue } from '../../jobs/side-effects.js';
import type { SignedAction, UrlSigner } from '../../storage/signing.js';
import { TooLargeError, type ByteRange, type ObjectStorage } from '../../storage/storage.js';
import { decodeGlobalId, parseGlobalId, toGlobalId } from '../shared/global-id.js';
import type { DeletePayload } from '../shared/payloads.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import { Job } from '../job/job.type.js';
import { ALLOWED_TYPES, checkFilename, IMAGE_TYPES, TEXT_TYPES } from './file-rules.js';
import type { AttachFileInput, CreateUploadInput, DetachFileInput } from './file.input.js';
import type { AttachmentTarget, FileRepo } from './file.repo.js';
import { FilePurpose, StoredFile, UploadMethod, type CreateUploadPayload, type FilePayload } from './file.type.js';

/** Staff scope: read and delete anyone's files. */
export const MANAGE_FILES = 'files:delete';

/** Bytes `file-type` needs to recognise every type it knows. */
const SNIFF_BYTES = 4_100;

/** The objects files attach to, as their own domains see them. */
export interface AttachmentTargets {
  items(ids: readonly string[]): Promise<Array<{ id: string }>>;
  tasks(ids: readonly string[]): Promise<Array<Pick<TaskRow, 'id' | 'ownerId' | 'assigneeId'>>>;
  posts(ids: readonly string[]): Promise<Array<Pick<PostRow, 'id' | 'authorId'>>>;
  users(ids: readonly string[]): Promise<Array<{ id: string }>>;
  /** The task domain's rule: who reads and changes a task. */
  taskVisible(auth: Authentication, row: Pick<TaskRow, 'ownerId' | 'assigneeId'>): boolean;
}

export interface FileServiceDeps {
  db: Database;
  repo: FileRepo;
  storage: ObjectStorage;
  signer: UrlSigner;
  config: Config['files'];
  targets: AttachmentTargets;
  /** FILE_PROCESSING is queued in the completion's transaction. */
  jobs: JobQueue;
}

/** What the viewer may do with the object a file is (to be) attached to. */
interface TargetAccess {
  type: AttachmentTarget;
  id: string;
  readable: boolean;
  writable: boolean;
}

/** The purpose a file must have to attach to each kind of object. */
export const TARGET_PURPOSE: Readonly<Record<AttachmentTarget, FilePurpose>> = {
  Item: FilePurpose.ITEM_IMAGE,
  Task: FilePurpose.ATTACHMENT,
  Post: FilePurpose.ATTACHMENT,
  User: FilePurpose.AVATAR,
};

const isTarget = (type: string): type is AttachmentTarget => Object.hasOwn(TARGET_PURPOSE, type);

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

class AttachedMeanwhile extends Error {}

const normalizedType = (value: string) => value.split(';')[0]!.trim().toLowerCase();

/**
 * Staged uploads and files: the declaration is checked when the upload is created, the bytes when it is completed
 * (real size, SHA-256, type sniffed from them); a refused upload leaves nothing stored. Ownership: a user reads and
 * deletes their own files, `files:delete` (staff) anyone's; an attached file is also read by whoever reads its object,
 * and attached or detached by whoever may change it.
 */
export class FileService {
  constructor(private readonly deps: FileServiceDeps) {}

  get storage(): ObjectStorage {
    return this.deps.storage;
  }

  /** The uploader and staff: who may read, detach and delete a file whatever it is attached to. */
  private manages(auth: Authentication, row: Pick<FileRow, 'ownerId'>): boolean {
    const viewerId = auth.viewer?.id;
    if (!viewerId) return false;
    return row.ownerId === viewerId || auth.scopes.has(MANAGE_FILES);
  }

  /**
   * Who may read a file (its `node`, its fields, its URLs): the uploader, staff, and whoever may read the object it
   * is attached to (an item image is seen by everyone who sees the item).
   */
  async visible(auth: Authentication, row: Pick<FileRow, 'ownerId' | 'attachedType' | 'attachedId'>): Promise<boolean> {
    if (this.manages(auth, row)) return true;
    if (!auth.viewer || !row.attachedType || !row.attachedId || !isTarget(row.attachedType)) return false;
    return (await this.access(auth, row.attachedType, row.attachedId))?.readable ?? false;
  }

  /** The object's access rules, its own domain's: null when it does not exist. */
  private async access(auth: Authentication, type: AttachmentTarget, id: string): Promise<TargetAccess | null> {
    const { targets } = this.deps;
    const viewerId = auth.viewer?.id;
    const has = (scope: string) => auth.scopes.has(scope);
    switch (type) {
      case 'Item': {
        const [row] = await targets.items([id]);
        return row ? { type, id, readable: has('items:read'), writable: has('items:write') } : null;
      }
      case 'Task': {
        const [row] = await targets.tasks([id]);
        if (!row) return null;
        const visible = targets.taskVisible(auth, row);
        return { type, id, readable: visible && has('tasks:read'), writable: visible && has('tasks:write') };
      }
      case 'Post': {
        const [row] = await targets.posts([id]);
        if (!row) return null;
        const mayEdit = row.authorId === viewerId || has('posts:delete');
        return { type, id, readable: has('posts:read'), writable: mayEdit && has('posts:write') };
      }
      case 'User': {
        const [row] = await targets.users([id]);
        return row ? { type, id, readable: viewerId !== undefined, writable: row.id === viewerId && has('profile:write') } : null;
      }
    }
  }

  /**
   * Attaches one of the viewer's files to an object the viewer may change, in one transaction that holds the object's
   * attachment lock: the per-object cap holds under concurrent attaches, and an avatar replaces the one before (which
   * the clean-up job removes after the grace period).
   */
  async attachFile(auth: Authentication, input: AttachFileInput): Promise<FilePayload> {
    const fail = (field: string, message: string, code = UserErrorCode.INVALID) => ({
      file: null,
      userErrors: [userError(['input', field], message, code)],
    });
    const file = await this.findVisible(auth, input.fileId);
    if (!file) return fail('fileId', 'File not found', UserErrorCode.NOT_FOUND);
    if (file.ownerId !== auth.viewer!.id) return fail('fileId', 'You can only attach your own files', UserErrorCode.FORBIDDEN);
    const decoded = decodeGlobalId(input.targetId);
    if (!decoded || !isTarget(decoded.type)) return fail('targetId', 'Files attach to an Item, a Task, a Post or a User');
    const target = await this.access(auth, decoded.type, decoded.id);
    if (!target || !target.readable) return fail('targetId', `${decoded.type} not found`, UserErrorCode.NOT_FOUND);
    if (!target.writable) return fail('targetId', `You may not change this ${decoded.type}`, UserErrorCode.FORBIDDEN);
    const purpose = TARGET_PURPOSE[target.type];
    if (file.purpose !== purpose)
      return fail('fileId', `Only ${purpose} files attach to ${target.type === 'Item' ? 'an' : 'a'} ${target.type}`);
    if (file.attachedId) return fail('fileId', 'The file is attached already');
    const cap = this.deps.config.maxPerEntity;
    const attached = await this.deps.db
      .transaction(async (tx) => {
        const repo = this.deps.repo.in(tx);
        await repo.lockTarget(target.type, target.id);
        const now = new Date();
        if (target.type === 'User') await repo.detachAll('User', target.id, now);
        else if ((await repo.attachedCount(target.type, target.id)) >= cap) return 'full' as const;
        const row = await repo.attach(file.id, target.type, target.id, now);
        // Attached elsewhere meanwhile: roll back, so a replaced avatar stays where it was.
        if (!row) throw new AttachedMeanwhile();
        return row;
      })
      .catch((error: unknown) => {
        if (error instanceof AttachedMeanwhile) return null;
        throw error;
      });
    if (attached === 'full') return fail('targetId', `At most ${cap} files per ${target.type}`, UserErrorCode.LIMIT_EXCEEDED);
    if (!attached) return fail('fileId', 'The file is attached already');
    return { file: StoredFile.fromRow(attached), userErrors: [] };
  }

  /** Detaches a file: its uploader, staff, or whoever may change the object it is attached to. */
  async detachFile(auth: Authentication, input: DetachFileInput): Promise<FilePayload> {
    const fail = (message: string, code = UserErrorCode.INVALID) => ({
      file: null,
      userErrors: [userError(['input', 'fileId'], message, code)],
    });
    const file = await this.findVisible(auth, input.fileId);
    if (!file) return fail('File not found', UserErrorCode.NOT_FOUND);
    if (!file.attachedType || !file.attachedId || !isTarget(file.attachedType)) return fail('The file is not attached');
    const target = await this.access(auth, file.attachedType, file.attachedId);
    if (!this.manages(auth, file) && !target?.writable) {
      return fail(`You may not change this ${file.attachedType}`, UserErrorCode.FORBIDDEN);
    }
    const row = await this.deps.repo.detach(file.id, new Date());
    return row ? { file: StoredFile.fromRow(row), userErrors: [] } : fail('File not found', UserErrorCode.NOT_FOUND);
  }

  private async findVisible(auth: Authentication, globalId: string): Promise<FileRow | null> {
    const id = parseGlobalId(globalId, 'File');
    const [row] = id ? await this.deps.repo.findFilesByIds([id]) : [];
    return row && (await this.visible(auth, row)) ? row : null;
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
    } else if (
      // Uploads in flight count too, so declaring many large uploads cannot get past the quota.
      (await this.deps.repo.usedBytes(viewerId)) + (await this.deps.repo.pendingUploadBytes(viewerId, new Date())) + input.byteSize >
      this.deps.config.userQuotaBytes
    ) {
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
    // A presigned PUT keeps working until it expires: the file gets its own copy, verified here, so bytes sent to the
    // old URL later land in an object nobody reads.
    const key = direct ? `files/${randomUUID()}` : upload.storageKey;
    if (direct) await this.deps.storage.copy(upload.storageKey, key);
    const refuse = async (message: string, code = UserErrorCode.INVALID) => {
      if (direct) await this.deps.storage.delete([key]);
      await this.discard(upload);
      return { file: null, userErrors: [userError(['id'], message, code)] };
    };
    const measured = await this.measure(key, upload.byteSize);
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
      const file = await repo.insertFile({
        ownerId: upload.ownerId,
        purpose: upload.purpose,
        filename: upload.filename,
        displayName: upload.displayName,
        contentType: sniffed,
        byteSize: measured.byteSize,
        sha256: measured.sha256,
        storageKey: key,
      });
      const job = (IMAGE_TYPES as readonly string[]).includes(file.contentType)
        ? await this.deps.jobs.enqueue(tx, {
            kind: 'FILE_PROCESSING',
            params: { fileId: toGlobalId('File', file.id) },
            ownerId: file.ownerId,
            scopes: [...auth.scopes],
          })
        : null;
      return { file, job };
    });
    if (direct) await this.deps.storage.delete(row ? [upload.storageKey] : [key]);
    if (!row) return notFound();
    return { file: StoredFile.fromRow(row.file), processingJob: row.job && Job.fromRow(row.job), userErrors: [] };
  }

  async deleteFile(auth: Authentication, globalId: string): Promise<DeletePayload> {
    const notFound = { deletedId: null, userErrors: [userError(['id'], 'File not found', UserErrorCode.NOT_FOUND)] };
    const row = await this.findVisible(auth, globalId);
    if (!row) return notFound;
    if (!this.manages(auth, row))
      return { deletedId: null, userErrors: [userError(['id'], 'You can only delete your own files', UserErrorCode.FORBIDDEN)] };
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

  /** The signed URL of a finished export's CSV (`Job.resultUrl`), opened without a header. */
  signedExportUrl(job: { id: string; rowId: string }): string {
    return this.deps.signer.sign(
      `/exports/${job.id}`,
      { action: 'export', method: 'GET', id: job.rowId },
      this.deps.config.downloadUrlTtlSeconds,
    ).url;
  }

  /** Whether a request to `/exports/:id` carries a valid signature for that job. */
  verifyExport(globalId: string, query: { expires?: unknown; sig?: unknown }): 'valid' | 'invalid' | 'expired' {
    const id = parseGlobalId(globalId, 'Job');
    return id ? this.deps.signer.verify({ action: 'export', method: 'GET', id }, query) : 'invalid';
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
