import { Field, ID, InputType, Int } from 'type-graphql';
import { fileDefaults } from '../../config.js';
import type { InputOf } from '../shared/validation.js';
import { FILENAME_MAX } from './file-rules.js';
import { FilePurpose, UploadMethod, type StoredFile } from './file.type.js';

@InputType({ description: 'A file about to be uploaded: what it is declared to be, checked again against its bytes.' })
export class CreateUploadInput implements InputOf<StoredFile> {
  @Field(() => String, {
    description: `The file's name, at most ${FILENAME_MAX} characters; path parts, control characters and reserved names are refused.`,
  })
  filename!: string;

  @Field(() => String, { description: 'The declared content type; the bytes must turn out to be of this type.' })
  contentType!: string;

  @Field(() => Int, {
    description: `The exact size in bytes, at least 1 and at most the purpose's limit (${fileDefaults.maxBytes} by default).`,
  })
  byteSize!: number;

  @Field(() => FilePurpose, { description: 'What the file is for.' })
  purpose!: FilePurpose;

  @Field(() => UploadMethod, { nullable: true, description: 'How the bytes will be sent; PUT when absent.' })
  method?: UploadMethod | null;
}

@InputType({ description: 'A file and the object to attach it to.' })
export class AttachFileInput {
  @Field(() => ID, { description: 'The file (one the viewer uploaded).' })
  fileId!: string;

  @Field(() => ID, {
    description: `An Item (ITEM_IMAGE files), a Task or a Post (ATTACHMENT files) or the viewer's own User (an AVATAR, replacing the one before); at most ${fileDefaults.maxPerEntity} files per item, task or post by default.`,
  })
  targetId!: string;
}

@InputType({ description: 'A file to detach from the object it is attached to.' })
export class DetachFileInput {
  @Field(() => ID, { description: 'The attached file.' })
  fileId!: string;
}
