import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../shared/scalars.js';

/** Static cost that one point buys; the service charges by it and the description states it. */
export const COST_PER_POINT = 100;

@ObjectType({
  description: `The caller’s rate-limit budget (per user, or per client IP when anonymous). Operations are charged max(1, ceil(cost / ${COST_PER_POINT})) points before they run.`,
})
export class RateLimit {
  @Field(() => Int, { description: 'Points per window for this caller.' })
  limit!: number;

  @Field(() => Int, { description: 'Points left in the current window, after this operation.' })
  remaining!: number;

  @Field(() => Int, { description: 'Points this operation was charged (0 when it asks only for rateLimit).' })
  cost!: number;

  @Field(() => DateTimeScalar, { description: 'When the current window ends and the budget is full again.' })
  resetAt!: Date;
}
