import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context.js';
import type { RealtimeContext } from '../../realtime/connections.js';
import type { JobEvent } from '../../pubsub/topics.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { StartJobInput } from './job.input.js';
import { Job, JobPayload, JobStatus } from './job.type.js';

export const { ConnectionType: JobConnection } = connectionTypes(Job, 'Job', 'background jobs');

@Resolver(() => Job)
export class JobResolver {
  @Authorized()
  @Query(() => JobConnection, { description: "The viewer's jobs, newest first; everyone's with jobs:read." })
  jobs(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('status', () => JobStatus, { nullable: true, description: 'Only jobs in this status.' }) status: JobStatus | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.jobs.list(ctx, args, status);
  }

  @Authorized('jobs:write')
  @Mutation(() => JobPayload, {
    description: 'Queues a background job. Parameters are validated now; permissions are checked now and again when it runs.',
  })
  startJob(@Arg('input', () => StartJobInput, { description: 'The kind and its parameters.' }) input: StartJobInput, @Ctx() ctx: Context) {
    return ctx.services.jobs.start(ctx, input);
  }

  @Authorized('jobs:write')
  @Mutation(() => JobPayload, {
    description: "Cancels a job: a PENDING one at once, a RUNNING one at its next step. Own jobs; anyone's with jobs:read.",
  })
  cancelJob(@Arg('id', () => ID, { description: 'The job to cancel.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.jobs.cancel(ctx, id);
  }

  @Authorized()
  @Subscription(() => Job, {
    subscribe: ({ args, context }) => {
      const ctx = context as Context & RealtimeContext;
      const { id, after } = args as { id: string; after?: string | null };
      return ctx.services.jobs.subscribe(ctx, id, after, ctx.connection);
    },
    description:
      "A job's current state, then every change (progress at most 4 times a second; status changes always) until it completes, fails or is cancelled. Own jobs; anyone's with jobs:read. With `after` (a state's `streamCursor`), the current state is sent first only if it is newer.",
  })
  jobUpdated(
    @Arg('id', () => ID, { description: 'The job to watch.' }) _id: string,
    @Arg('after', () => String, {
      nullable: true,
      description:
        "Resume after this `streamCursor` of the job's states: intermediate progress is not replayed, the current state is. CURSOR_EXPIRED when the job finished longer ago than the retention; BAD_USER_INPUT when it is not a cursor of this job.",
    })
    _after: string | null,
    @Root() event: JobEvent,
    @Ctx() ctx: Context,
  ): Job {
    return ctx.services.jobs.eventFor(ctx, event);
  }
}
