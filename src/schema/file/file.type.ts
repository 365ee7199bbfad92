import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { fileDefaults } from '../../config.js';
import type { FileRow } from '../../db/tables.js';
import { Job } from '../job/job.type.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar, JSONScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';
import { FILENAME_MAX } from './file-rules.js';

export enum FilePurpose {
  AVATAR = 'AVATAR',
  ITEM_IMAGE = 'ITEM_IMAGE',
  ATTACHMENT = 'ATTACHMENT',
}

registerEnumType(FilePurpose, {
  name: 'FilePurpose',
  description: 'What a file is for; its size limit and allowed content types follow from it.',
  valuesConfig: {
    AVATAR: { description: "A user's picture: JPEG, PNG, WebP or GIF." },
    ITEM_IMAGE: { description: 'A picture of a catalog item: JPEG, PNG, WebP or GIF.' },
    ATTACHMENT: { description: 'A file attached to a task or a post: an image, a PDF, plain text or CSV.' },
  },
});

export enum UploadMethod {
  PUT = 'PUT',
  POST = 'POST',
}

registerEnumType(UploadMethod, {
  name: 'UploadMethod',
  description: 'How the bytes of a staged upload are sent to its URL.',
  valuesConfig: {
    PUT: { description: 'The bytes as the request body.' },
    POST: { description: 'A multipart/form-data body with one file part.' },
  },
});

@ObjectType({ description: 'Where and how to send the bytes of a staged upload, once, before it expires.' })
export class Upload {
  @Field(() => ID, { description: 'Pass it to `completeUpload` once the bytes are sent.' })
  id!: string;

  @Field(() => String, { description: 'The signed URL to send the bytes to; relative URLs are on this server.' })
  url!: string;

  @Field(() => UploadMethod, { description: 'The HTTP method the URL takes.' })
  method!: UploadMethod;

  @Field(() => JSONScalar, { description: 'Headers the request must carry, as an object of name to value.' })
  headers!: Record<string, string>;

  @Field(() => DateTimeScalar, { description: 'The URL stops working at this time.' })
  expiresAt!: Date;
}

@ObjectType('File', {
  implements: Node,
  description: 'An uploaded file, verified from its bytes: size, SHA-256 and type are measured, not declared.',
})
export class StoredFile implements Node {
  readonly __typename = 'File';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  rowId!: string;
  ownerId!: string;
  storageKey!: string;
  thumbnailKey!: string | null;
  attachedType!: string | null;
  attachedId!: string | null;

  @Field(() => String, {
    description: `The stored name: no path parts, control characters or reserved names; at most ${FILENAME_MAX} characters.`,
  })
  filename!: string;

  @Field(() => String, { description: 'The name the uploader gave it, for display (control characters removed).' })
  displayName!: string;

  @Field(() => FilePurpose, { description: 'What the file is for.' })
  purpose!: FilePurpose;

  @Field(() => String, { description: 'The content type sniffed from the bytes, e.g. image/png.' })
  contentType!: string;

  @Field(() => Int, { description: `Size in bytes (at most ${fileDefaults.maxBytes} by default).` })
  byteSize!: number;

  @Field(() => String, { description: 'SHA-256 of the bytes, lower-case hex.' })
  sha256!: string;

  @Field(() => Int, { nullable: true, description: 'Width in pixels, for images, once processed; null otherwise.' })
  width!: number | null;

  @Field(() => Int, { nullable: true, description: 'Height in pixels, for images, once processed; null otherwise.' })
  height!: number | null;

  @Field(() => DateTimeScalar, { description: 'When the upload was completed.' })
  createdAt!: Date;

  static fromRow(row: FileRow): StoredFile {
    return Object.assign(new StoredFile(), {
      id: toGlobalId('File', row.id),
      rowId: row.id,
      ownerId: row.ownerId,
      storageKey: row.storageKey,
      thumbnailKey: row.thumbnailKey,
      attachedType: row.attachedType,
      attachedId: row.attachedId,
      filename: row.filename,
      displayName: row.displayName,
      purpose: row.purpose as FilePurpose,
      contentType: row.contentType,
      byteSize: row.byteSize,
      sha256: row.sha256,
      width: row.width,
      height: row.height,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: 'Result of createUpload: where to send the bytes.' })
export class CreateUploadPayload {
  @Field(() => Upload, { nullable: true, description: 'The staged upload; null when the declaration was refused.' })
  upload!: Upload | null;

  @Field(() => [UserError], { description: 'Why the upload was refused; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of completing, attaching or detaching a file.' })
export class FilePayload {
  @Field(() => StoredFile, { nullable: true, description: 'The file; null when the mutation failed.' })
  file!: StoredFile | null;

  @Field(() => Job, {
    nullable: true,
    description:
      'From completeUpload of an image: the FILE_PROCESSING job that measures it and makes its thumbnail (watch it with `jobUpdated`); null otherwise.',
  })
  processingJob?: Job | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
