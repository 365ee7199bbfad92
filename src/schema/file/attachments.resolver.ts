/**
 * The file fields of other domains' types, kept with the file domain: `Item.images`, `Task.attachments`,
 * `Post.attachments`, `User.avatar`, and the signed `Job.resultUrl` of an export. Whoever can see the object sees its files (the object's own rule already
 * decided that). The lists are connections; each loads one page for every parent of a request in one statement.
 */
import { Args, Authorized, Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { fileDefaults } from '../../config.js';
import type { Context } from '../context.js';
import { Item } from '../item/item.type.js';
import { Job, JobKind, JobStatus } from '../job/job.type.js';
import { nestedConnection, nestedKey } from '../post/nested.js';
import { Post } from '../post/post.type.js';
import { ConnectionArgs, connectionTypes, type Connection } from '../shared/connection.js';
import { Task } from '../task/task.type.js';
import { User } from '../user/user.type.js';
import type { fileLoaders } from './file.loaders.js';
import { attachedSort } from './file.repo.js';
import { StoredFile } from './file.type.js';

export const { ConnectionType: FileConnection } = connectionTypes(StoredFile, 'File', 'files');

const LIST = `in the order they were attached (oldest first); at most ${fileDefaults.maxPerEntity} per object by default (FILE_MAX_PER_ENTITY)`;

type AttachedPages = ReturnType<ReturnType<typeof fileLoaders>['itemImages']>;

function attachedConnection(loaders: AttachedPages, parentId: string, args: ConnectionArgs): Promise<Connection<StoredFile>> {
  return nestedConnection(loaders.pages, loaders.counts, nestedKey(parentId, args, attachedSort.kind), attachedSort, StoredFile.fromRow);
}

@Resolver(() => Item)
export class ItemImagesResolver {
  @Authorized('files:read')
  @FieldResolver(() => FileConnection, { description: `Pictures of the item (ITEM_IMAGE files), ${LIST}.` })
  images(@Root() item: Item, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context): Promise<Connection<StoredFile>> {
    return attachedConnection(ctx.loaders.itemImages, item.rowId, args);
  }
}

@Resolver(() => Task)
export class TaskAttachmentsResolver {
  @Authorized('files:read')
  @FieldResolver(() => FileConnection, { description: `Files attached to the task (ATTACHMENT files), ${LIST}.` })
  attachments(@Root() task: Task, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context): Promise<Connection<StoredFile>> {
    return attachedConnection(ctx.loaders.taskAttachments, task.rowId, args);
  }
}

@Resolver(() => Post)
export class PostAttachmentsResolver {
  @Authorized('files:read')
  @FieldResolver(() => FileConnection, { description: `Files attached to the post (ATTACHMENT files), ${LIST}.` })
  attachments(@Root() post: Post, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context): Promise<Connection<StoredFile>> {
    return attachedConnection(ctx.loaders.postAttachments, post.rowId, args);
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
