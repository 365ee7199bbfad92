import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../context.js';
import { DeletePayload } from '../shared/payloads.js';
import { User } from '../user/user.type.js';
import { AttachFileInput, CreateUploadInput, DetachFileInput } from './file.input.js';
import { CreateUploadPayload, FilePayload, StoredFile } from './file.type.js';

@Resolver(() => StoredFile)
export class FileResolver {
  @Authorized('files:write')
  @Mutation(() => CreateUploadPayload, {
    description:
      'Declares a file to upload and returns a signed URL to send its bytes to, once, before it expires; then call `completeUpload`. The name, type and size are checked now and again against the bytes.',
  })
  createUpload(
    @Arg('input', () => CreateUploadInput, { description: 'What is about to be uploaded.' }) input: CreateUploadInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.files.createUpload(ctx, input);
  }

  @Authorized('files:write')
  @Mutation(() => FilePayload, {
    description:
      "Verifies the bytes an upload received (size, SHA-256, type sniffed from the bytes) and creates the file; a refused upload is deleted with its bytes. Only the uploader's own uploads.",
  })
  completeUpload(@Arg('id', () => ID, { description: 'The upload, from `createUpload`.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.files.completeUpload(ctx, id);
  }

  @Authorized('files:write')
  @Mutation(() => DeletePayload, { description: "Deletes one of the viewer's files (anyone's with `files:delete`) and its bytes." })
  deleteFile(@Arg('id', () => ID, { description: 'The file to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.files.deleteFile(ctx, id);
  }

  @Authorized('files:write')
  @Mutation(() => FilePayload, {
    description:
      "Attaches one of the viewer's files to an object the viewer may change: an item's images (`items:write`), a task (its owner or assignee) or a post (its author, or `posts:delete`), or the viewer's own avatar (replacing the one before).",
  })
  attachFile(@Arg('input', () => AttachFileInput, { description: 'The file and the object.' }) input: AttachFileInput, @Ctx() ctx: Context) {
    return ctx.services.files.attachFile(ctx, input);
  }

  @Authorized('files:write')
  @Mutation(() => FilePayload, {
    description:
      'Detaches a file from its object (its uploader, staff, or whoever may change the object); a file attached to nothing is removed by the clean-up job after FILE_ORPHAN_GRACE_MS.',
  })
  detachFile(@Arg('input', () => DetachFileInput, { description: 'The file.' }) input: DetachFileInput, @Ctx() ctx: Context) {
    return ctx.services.files.detachFile(ctx, input);
  }

  @FieldResolver(() => String, {
    description: 'A signed download URL, valid for a few minutes (FILE_URL_TTL_SECONDS), that needs no Authorization header.',
  })
  url(@Root() file: StoredFile, @Ctx() ctx: Context): string {
    return ctx.services.files.signedUrl(file, 'file');
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: 'A signed URL of a small preview (WebP, at most 256 pixels a side), for images once processed; null otherwise.',
  })
  thumbnailUrl(@Root() file: StoredFile, @Ctx() ctx: Context): string | null {
    return file.thumbnailKey ? ctx.services.files.signedUrl(file, 'thumbnail') : null;
  }

  @FieldResolver(() => User, { nullable: true, description: 'Who uploaded it; null when that account is gone.' })
  async uploadedBy(@Root() file: StoredFile, @Ctx() ctx: Context): Promise<User | null> {
    const row = await ctx.loaders.user.load(file.ownerId);
    return row && User.fromRow(row);
  }
}
