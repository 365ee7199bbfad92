import type { PubSub } from '../../pubsub/pubsub.js';
import type DataLoader from 'dataloader';
import type { Authentication } from '../../auth/identity.js';
import type { Database } from '../../db/client.js';
import type { CommentRow, PostRow, UserProfileRow } from '../../db/tables.js';
import { Topic, type Topics } from '../../pubsub/topics.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import { primeRow } from '../shared/loaders.js';
import type { DeletePayload } from '../shared/payloads.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import { checkLength } from '../shared/validation.js';
import type { AddCommentInput, CreatePostInput, UpdatePostInput } from './post.input.js';
import { postSort, type PostRepo } from './post.repo.js';
import { enqueueNotification, type JobQueue } from '../../jobs/side-effects.js';
import { BODY_MAX, Comment, COMMENT_MAX, Post, TITLE_MAX, type CommentPayload, type PostPayload } from './post.type.js';

/** Moderators hold posts:delete: they change and delete anyone's posts and comments. */
export const MODERATE_POSTS = 'posts:delete';

function viewerId(auth: Authentication): string {
  // @Authorized on every resolver guarantees a viewer; a missing one is a wiring bug, not a user error.
  if (!auth.viewer) throw new Error('post service called without a viewer');
  return auth.viewer.id;
}

/** May the viewer change or delete something written by `authorId`? Its author, or a moderator. */
function mayEdit(auth: Authentication, authorId: string): boolean {
  return auth.viewer?.id === authorId || auth.scopes.has(MODERATE_POSTS);
}

/** The request's post and comment loaders: a mutation primes them with the rows it wrote or read. */
export interface PostLoaders {
  post: DataLoader<string, PostRow | null>;
  comment: DataLoader<string, CommentRow | null>;
}

export interface PostServiceDeps {
  db: Database;
  repo: PostRepo;
  pubsub: PubSub<Topics>;
  jobs: JobQueue;
}

/** Posts and comments: every holder of posts:read reads them all; authors edit their own, moderators anyone's. */
export class PostService {
  constructor(private readonly deps: PostServiceDeps) {}

  /** A page of posts; the authors come in the same statement and prime `users` (the request's user loader). */
  async list(
    args: ConnectionArgs,
    authorGlobalId: string | null | undefined,
    users?: DataLoader<string, UserProfileRow | null>,
  ): Promise<Connection<Post>> {
    const authorId = authorGlobalId ? fromGlobalId(authorGlobalId, 'User') : null;
    const page = pageRequest(args, postSort.kind);
    const rows = await this.deps.repo.page(authorId, page);
    if (users) for (const { author } of rows) users.prime(author.id, author);
    return toConnection(rows, page, postSort, Post.fromRow, () => this.deps.repo.count(authorId));
  }

  async create(auth: Authentication, input: CreatePostInput, loaders?: PostLoaders): Promise<PostPayload> {
    const errors = new UserErrors();
    const title = checkLength(input.title, errors, ['input', 'title'], 'Title', 1, TITLE_MAX);
    const body = checkLength(input.body, errors, ['input', 'body'], 'Body', 1, BODY_MAX);
    if (errors.any) return { post: null, userErrors: errors.list };
    const row = await this.deps.repo.insert({ authorId: viewerId(auth), title, body });
    primeRow(loaders?.post, row.id, row);
    this.published(row);
    return { post: Post.fromRow(row), userErrors: [] };
  }

  async update(auth: Authentication, input: UpdatePostInput, loaders?: PostLoaders): Promise<PostPayload> {
    const errors = new UserErrors();
    const id = parseGlobalId(input.id, 'Post');
    const [existing] = id ? await this.deps.repo.findByIds([id]) : [];
    if (!existing) return { post: null, userErrors: errors.add(['input', 'id'], 'Post not found', UserErrorCode.NOT_FOUND).list };
    if (!mayEdit(auth, existing.authorId)) {
      return {
        post: null,
        userErrors: errors.add(['input', 'id'], 'You can only change your own posts', UserErrorCode.FORBIDDEN).list,
      };
    }
    const changes: Partial<Pick<PostRow, 'title' | 'body'>> = {};
    // Both fields are required on a post: absent or null leaves them as they are.
    if (input.title != null) changes.title = checkLength(input.title, errors, ['input', 'title'], 'Title', 1, TITLE_MAX);
    if (input.body != null) changes.body = checkLength(input.body, errors, ['input', 'body'], 'Body', 1, BODY_MAX);
    if (errors.any) return { post: null, userErrors: errors.list };
    const row = await this.deps.repo.update(existing.id, changes);
    if (!row) return { post: null, userErrors: errors.add(['input', 'id'], 'Post not found', UserErrorCode.NOT_FOUND).list };
    primeRow(loaders?.post, row.id, row);
    return { post: Post.fromRow(row), userErrors: [] };
  }

  async delete(auth: Authentication, globalId: string): Promise<DeletePayload> {
    const id = parseGlobalId(globalId, 'Post');
    const [existing] = id ? await this.deps.repo.findByIds([id]) : [];
    if (!existing) return { deletedId: null, userErrors: [userError(['id'], 'Post not found', UserErrorCode.NOT_FOUND)] };
    if (!mayEdit(auth, existing.authorId)) {
      return { deletedId: null, userErrors: [userError(['id'], 'You can only delete your own posts', UserErrorCode.FORBIDDEN)] };
    }
    const row = await this.deps.repo.delete(existing.id);
    if (!row) return { deletedId: null, userErrors: [userError(['id'], 'Post not found', UserErrorCode.NOT_FOUND)] };
    return { deletedId: globalId, userErrors: [] };
  }

  /**
   * One transaction: the post is locked against deletion while the comment is inserted, and side effects of a new
   * comment (a notification to the post's author) are enqueued inside it, so they exist exactly when the comment does.
   */
  async addComment(auth: Authentication, input: AddCommentInput, loaders?: PostLoaders): Promise<CommentPayload> {
    const errors = new UserErrors();
    const postId = parseGlobalId(input.postId, 'Post');
    const body = checkLength(input.body, errors, ['input', 'body'], 'Body', 1, COMMENT_MAX);
    if (!postId) errors.add(['input', 'postId'], 'Post not found', UserErrorCode.NOT_FOUND);
    if (errors.any) return { comment: null, userErrors: errors.list };
    const authorId = viewerId(auth);
    const written = await this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      const post = await repo.findForShare(postId!);
      if (!post) return null;
      const comment = await repo.insertComment({ postId: post.id, authorId, body });
      if (post.authorId !== authorId) {
        await enqueueNotification(this.deps.jobs, tx, [post.authorId], {
          title: 'New comment on your post',
          body: `${auth.viewer!.username} commented on "${post.title}": ${body}`,
        });
      }
      return { comment, post };
    });
    if (!written) return { comment: null, userErrors: errors.add(['input', 'postId'], 'Post not found', UserErrorCode.NOT_FOUND).list };
    // Committed: `Comment.post` of the payload is the post just locked, and costs no statement.
    primeRow(loaders?.post, written.post.id, written.post);
    primeRow(loaders?.comment, written.comment.id, written.comment);
    return { comment: Comment.fromRow(written.comment), userErrors: [] };
  }

  async deleteComment(auth: Authentication, globalId: string): Promise<DeletePayload> {
    const id = parseGlobalId(globalId, 'Comment');
    const [existing] = id ? await this.deps.repo.findCommentsByIds([id]) : [];
    if (!existing) return { deletedId: null, userErrors: [userError(['id'], 'Comment not found', UserErrorCode.NOT_FOUND)] };
    if (!mayEdit(auth, existing.authorId)) {
      return {
        deletedId: null,
        userErrors: [userError(['id'], 'You can only delete your own comments', UserErrorCode.FORBIDDEN)],
      };
    }
    const row = await this.deps.repo.deleteComment(existing.id);
    if (!row) return { deletedId: null, userErrors: [userError(['id'], 'Comment not found', UserErrorCode.NOT_FOUND)] };
    return { deletedId: globalId, userErrors: [] };
  }

  /** Called after the insert committed: subscribers never see a post that could still roll back. */
  private published(row: PostRow): void {
    this.deps.pubsub.publish(Topic.PostPublished, {
      post: { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() },
    });
  }
}
