import { Field, ID, ObjectType } from 'type-graphql';
import { UserError } from './user-error.js';

@ObjectType({ description: 'Result of a delete mutation.' })
export class DeletePayload {
  @Field(() => ID, { nullable: true, description: 'Id of the deleted object; null when nothing was deleted.' })
  deletedId!: string | null;

  @Field(() => [UserError], { description: 'Why nothing was deleted; empty on success.' })
  userErrors!: UserError[];
}
