import { Field, ID, InputType } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import { BODY_MAX, COMMENT_MAX, TITLE_MAX, type Comment, type Post } from './post.type.js';

@InputType({ description: 'A new post.' })
export class CreatePostInput implements InputOf<Post> {
  @Field(() => String, { description: `Title, 1 to ${TITLE_MAX} characters (trimmed).` })
  title!: string;

  @Field(() => String, { description: `Text, 1 to ${BODY_MAX} characters (trimmed).` })
  body!: string;
}

@InputType({ description: 'Changes to a post; absent fields stay as they are.' })
export class UpdatePostInput implements InputOf<Post> {
  @Field(() => ID, { description: 'The post to change.' })
  id!: string;

  @Field(() => String, { nullable: true, description: `Title, 1 to ${TITLE_MAX} characters.` })
  title?: string | null;

  @Field(() => String, { nullable: true, description: `Text, 1 to ${BODY_MAX} characters.` })
  body?: string | null;
}

@InputType({ description: 'A comment to add to a post.' })
export class AddCommentInput implements InputOf<Comment> {
  @Field(() => ID, { description: 'The post to comment on.' })
  postId!: string;

  @Field(() => String, { description: `Text, 1 to ${COMMENT_MAX} characters (trimmed).` })
  body!: string;
}
