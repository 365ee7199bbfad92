import { Arg, Authorized, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context.js';
import type { RealtimeContext } from '../../realtime/connections.js';
import { DASHBOARD_INTERVAL, DashboardStats } from './dashboard.type.js';
import { SharedEvents } from '../shared/shared-events.js';

@Resolver(() => DashboardStats)
export class DashboardResolver {
  @Authorized('analytics:read')
  @Query(() => DashboardStats, { description: 'Live figures for operations dashboards, computed now.' })
  dashboard(@Ctx() ctx: Context) {
    return ctx.services.dashboard.compute();
  }

  @SharedEvents()
  @Authorized('analytics:read')
  @Subscription(() => DashboardStats, {
    description:
      'The dashboard figures every `intervalMs`. All subscribers of one interval share one computation per tick; ' +
      'nothing is computed while nobody subscribes.',
    subscribe: ({ args, context }) => {
      const ctx = context as Context & RealtimeContext;
      return ctx.services.dashboard.subscribe(args.intervalMs as number | null | undefined, ctx.connection);
    },
  })
  dashboardStats(
    @Root() stats: DashboardStats,
    @Arg('intervalMs', () => Int, {
      nullable: true,
      description: `Milliseconds between updates: ${DASHBOARD_INTERVAL.default} by default, at least ${DASHBOARD_INTERVAL.min}.`,
    })
    _intervalMs: number | null,
  ): DashboardStats {
    return stats;
  }
}
