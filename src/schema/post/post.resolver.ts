import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { UserProfileRow } from '../../db/tables.js';
import type { Context } from '../context.js';
import { Topic, type PostEvent } from '../../pubsub/topics.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { DeletePayload } from '../shared/payloads.js';
import { User } from '../user/user.type.js';
import { nestedConnection, nestedKey } from './nested.js';
import { AddCommentInput, CreatePostInput, UpdatePostInput } from './post.input.js';
import { commentSort, postSort, type AuthoredComment } from './post.repo.js';
import { Comment, CommentPayload, Post, PostPayload } from './post.type.js';

export const { ConnectionType: PostConnection } = connectionTypes(Post, 'Post', 'posts');
export const { ConnectionType: CommentConnection } = connectionTypes(Comment, 'Comment', 'comments');

async function loadUser(ctx: Context, id: string): Promise<User> {
  const row = await ctx.loaders.user.load(id);
  // Foreign keys keep authors in place; a missing row is a broken invariant, reported as an internal error.
  if (!row) throw new Error(`user ${id} not found`);
  return User.fromRow(row);
}

/**
 * The author of a post or comment: at once from the row read with it (pages join their authors), else from the user
 * loader. The row is the one the loader was primed with, so both give the same user; the first is no promise for
 * graphql-js to wait on, for each of the 80 authors of a page of 20 posts with 3 comments each.
 */
function authorOf(ctx: Context, written: { authorId: string; authorRow?: UserProfileRow }): User | Promise<User> {
  return written.authorRow ? User.fromRow(written.authorRow) : loadUser(ctx, written.authorId);
}

@Resolver(() => Post)
export class PostResolver {
  @Authorized('posts:read')
  @Query(() => PostConnection, { description: 'Posts, newest first.' })
  posts(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('authorId', () => ID, { nullable: true, description: 'Only the posts of this user.' }) authorId: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.posts.list(args, authorId, ctx.loaders.user);
  }

  @Authorized('posts:write')
  @Mutation(() => PostPayload, { description: 'Publishes a post by the viewer; `postPublished` subscribers see it.' })
  createPost(@Arg('input', () => CreatePostInput, { description: 'The post.' }) input: CreatePostInput, @Ctx() ctx: Context) {
    return ctx.services.posts.create(ctx, input, ctx.loaders.posts);
  }

  @Authorized('posts:write')
  @Mutation(() => PostPayload, {
    description: 'Changes a post: its author, or a holder of `posts:delete`. Absent fields stay as they are.',
  })
  updatePost(
    @Arg('input', () => UpdatePostInput, { description: 'The post and the fields to change.' }) input: UpdatePostInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.posts.update(ctx, input, ctx.loaders.posts);
  }

  @Authorized('posts:write')
  @Mutation(() => DeletePayload, {
    description: 'Deletes a post and its comments: its author, or a holder of `posts:delete`.',
  })
  deletePost(@Arg('id', () => ID, { description: 'The post to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.posts.delete(ctx, id);
  }

  @Authorized('posts:write')
  @Mutation(() => CommentPayload, { description: 'Adds a comment by the viewer to a post.' })
  addComment(@Arg('input', () => AddCommentInput, { description: 'The comment.' }) input: AddCommentInput, @Ctx() ctx: Context) {
    return ctx.services.posts.addComment(ctx, input, ctx.loaders.posts);
  }

  @Authorized('posts:write')
  @Mutation(() => DeletePayload, { description: 'Deletes a comment: its author, or a holder of `posts:delete`.' })
  deleteComment(@Arg('id', () => ID, { description: 'The comment to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.posts.deleteComment(ctx, id);
  }

  @Authorized('posts:read')
  @Subscription(() => Post, {
    topics: Topic.PostPublished,
    description: 'Every new post, once it is stored.',
  })
  postPublished(@Root() event: PostEvent): Post {
    return Post.fromEvent(event.post);
  }

  @FieldResolver(() => User, { description: 'Who wrote the post.' })
  author(@Root() post: Post, @Ctx() ctx: Context): User | Promise<User> {
    return authorOf(ctx, post);
  }

  @FieldResolver(() => CommentConnection, { description: 'Comments on the post, newest first.' })
  comments(@Root() post: Post, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    const { commentsByPost, commentCount } = ctx.loaders.posts;
    // Each comment's author came with it (post.repo.ts): primed, `Comment.author` costs no statement.
    return nestedConnection(
      commentsByPost,
      commentCount,
      nestedKey(post.rowId, args, commentSort.kind),
      commentSort,
      (row: AuthoredComment) => {
        ctx.loaders.user.prime(row.author.id, row.author);
        return Comment.fromRow(row);
      },
    );
  }
}

@Resolver(() => Comment)
export class CommentResolver {
  @FieldResolver(() => User, { description: 'Who wrote the comment.' })
  author(@Root() comment: Comment, @Ctx() ctx: Context): User | Promise<User> {
    return authorOf(ctx, comment);
  }

  @FieldResolver(() => Post, { description: 'The post the comment belongs to.' })
  async post(@Root() comment: Comment, @Ctx() ctx: Context): Promise<Post> {
    const row = await ctx.loaders.posts.post.load(comment.postId);
    if (!row) throw new Error(`post ${comment.postId} not found`);
    return Post.fromRow(row);
  }
}

/** `User.posts`, added to the identity domain's User type from here. */
@Resolver(() => User)
export class UserPostsResolver {
  @Authorized('posts:read')
  @FieldResolver(() => PostConnection, { description: "The user's posts, newest first." })
  posts(@Root() user: User, @Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    const { postsByAuthor, postCount } = ctx.loaders.posts;
    return nestedConnection(postsByAuthor, postCount, nestedKey(user.rowId, args, postSort.kind), postSort, Post.fromRow);
  }
}
