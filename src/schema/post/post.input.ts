import { Field, ID, InputType } from 'type-graphql';
import type { InputOf } from '../shared/validation.js';
import type { Comment, Post } from './post.type.js';

@InputType({ description: 'A new post.' })
export class CreatePostInput implements InputOf<Post> {
  @Field(() => String, { description: 'Title, 1 to 200 characters (trimmed).' })
  title!: string;

  @Field(() => String, { description: 'Text, 1 to 10000 characters (trimmed).' })
  body!: string;
}

@InputType({ description: 'Changes to a post; absent fields stay as they are.' })
export class UpdatePostInput implements InputOf<Post> {
  @Field(() => ID, { description: 'The post to change.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'Title, 1 to 200 characters.' })
  title?: string | null;

  @Field(() => String, { nullable: true, description: 'Text, 1 to 10000 characters.' })
  body?: string | null;
}

@InputType({ description: 'A comment to add to a post.' })
export class AddCommentInput implements InputOf<Comment> {
  @Field(() => ID, { description: 'The post to comment on.' })
  postId!: string;

  @Field(() => String, { description: 'Text, 1 to 2000 characters (trimmed).' })
  body!: string;
}
