import { Field, ID, ObjectType } from 'type-graphql';
import type { CommentRow, PostRow, UserProfileRow } from '../../db/tables.js';
import type { PostEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';

/** Field limits: the service checks them and the descriptions state them, so both read these. */
export const TITLE_MAX = 200;
export const BODY_MAX = 10_000;
export const COMMENT_MAX = 2_000;

@ObjectType({ implements: Node, description: 'An internal post (announcement) by a member of staff.' })
export class Post implements Node {
  readonly __typename = 'Post';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders and services. */
  rowId!: string;

  /** The author's uuid; `author` loads the user. */
  authorId!: string;

  /** The author's row when the statement that read the post joined it (a page of posts): `author` needs no loader. */
  authorRow?: UserProfileRow;

  @Field(() => String, { description: `Title, 1 to ${TITLE_MAX} characters.` })
  title!: string;

  @Field(() => String, { description: `Text of the post, 1 to ${BODY_MAX} characters.` })
  body!: string;

  @Field(() => DateTimeScalar, { description: 'When the post was published.' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When the post was last changed.' })
  updatedAt!: Date;

  static fromRow(row: PostRow & { author?: UserProfileRow }): Post {
    return Object.assign(new Post(), {
      id: toGlobalId('Post', row.id),
      rowId: row.id,
      authorId: row.authorId,
      authorRow: row.author,
      title: row.title,
      body: row.body,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }

  static fromEvent(event: PostEvent['post']): Post {
    return Post.fromRow({ ...event, createdAt: new Date(event.createdAt), updatedAt: new Date(event.updatedAt) });
  }
}

@ObjectType({ implements: Node, description: 'A comment on a post.' })
export class Comment implements Node {
  readonly __typename = 'Comment';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders and services. */
  rowId!: string;

  postId!: string;
  authorId!: string;

  /** The author's row when the statement that read the comment joined it (nested comment pages). */
  authorRow?: UserProfileRow;

  @Field(() => String, { description: `Text of the comment, 1 to ${COMMENT_MAX} characters.` })
  body!: string;

  @Field(() => DateTimeScalar, { description: 'When the comment was written.' })
  createdAt!: Date;

  static fromRow(row: CommentRow & { author?: UserProfileRow }): Comment {
    return Object.assign(new Comment(), {
      id: toGlobalId('Comment', row.id),
      rowId: row.id,
      postId: row.postId,
      authorId: row.authorId,
      authorRow: row.author,
      body: row.body,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: 'Result of creating or changing a post.' })
export class PostPayload {
  @Field(() => Post, { nullable: true, description: 'The post as stored; null when the mutation failed.' })
  post!: Post | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of adding a comment.' })
export class CommentPayload {
  @Field(() => Comment, { nullable: true, description: 'The comment as stored; null when the mutation failed.' })
  comment!: Comment | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
