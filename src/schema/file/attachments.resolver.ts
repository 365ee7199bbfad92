/**
 * The file fields of other domains' types, kept with the file domain: `Item.images`, `Task.attachments`,
 * `Post.attachments`, `User.avatar`, and the signed `Job.resultUrl` of an export. Whoever can see the object sees its files (the object's own rule already
 * decided that); each field loads every parent's files of a request in one statement.
 */
import { Authorized, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { fileDefaults } from '../../config.js';
import type { Context } from '../context.js';
import { Item } from '../item/item.type.js';
import { Job, JobKind, JobStatus } from '../job/job.type.js';
import { Post } from '../post/post.type.js';
import { Task } from '../task/task.type.js';
import { User } from '../user/user.type.js';
import { StoredFile } from './file.type.js';

const LIST = `in the order they were attached; at most ${fileDefaults.maxPerEntity} by default (FILE_MAX_PER_ENTITY)`;

@Resolver(() => Item)
export class ItemImagesResolver {
  @Authorized('files:read')
  @FieldResolver(() => [StoredFile], { description: `Pictures of the item (ITEM_IMAGE files), ${LIST}.` })
  async images(@Root() item: Item, @Ctx() ctx: Context): Promise<StoredFile[]> {
    return (await ctx.loaders.itemImages.load(item.rowId)).map(StoredFile.fromRow);
  }
}

@Resolver(() => Task)
export class TaskAttachmentsResolver {
  @Authorized('files:read')
  @FieldResolver(() => [StoredFile], { description: `Files attached to the task (ATTACHMENT files), ${LIST}.` })
  async attachments(@Root() task: Task, @Ctx() ctx: Context): Promise<StoredFile[]> {
    return (await ctx.loaders.taskAttachments.load(task.rowId)).map(StoredFile.fromRow);
  }
}

@Resolver(() => Post)
export class PostAttachmentsResolver {
  @Authorized('files:read')
  @FieldResolver(() => [StoredFile], { description: `Files attached to the post (ATTACHMENT files), ${LIST}.` })
  async attachments(@Root() post: Post, @Ctx() ctx: Context): Promise<StoredFile[]> {
    return (await ctx.loaders.postAttachments.load(post.rowId)).map(StoredFile.fromRow);
  }
}

@Resolver(() => User)
export class UserAvatarResolver {
  @Authorized('files:read')
  @FieldResolver(() => StoredFile, { nullable: true, description: "The user's picture (an AVATAR file); null when none is set." })
  async avatar(@Root() user: User, @Ctx() ctx: Context): Promise<StoredFile | null> {
    const [row] = await ctx.loaders.userAvatar.load(user.rowId);
    return row ? StoredFile.fromRow(row) : null;
  }
}

@Resolver(() => Job)
export class JobResultUrlResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description:
      'For a COMPLETED EXPORT_ITEMS job: a signed URL of its CSV, valid for a few minutes (FILE_URL_TTL_SECONDS), that opens in a browser without an Authorization header; null otherwise.',
  })
  resultUrl(@Root() job: Job, @Ctx() ctx: Context): string | null {
    return job.kind === JobKind.EXPORT_ITEMS && job.status === JobStatus.COMPLETED ? ctx.services.files.signedExportUrl(job) : null;
  }
}
