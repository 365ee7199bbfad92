import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../shared/scalars.js';

/** `dashboardStats(intervalMs)`: the service checks these bounds and the argument's description states them. */
export const DASHBOARD_INTERVAL = { default: 1_000, min: 500, max: 60_000 } as const; // ms

@ObjectType({ description: 'Live figures for operations dashboards.' })
export class DashboardStats {
  @Field(() => Int, {
    description: 'Signed-in users with at least one open realtime connection (every server process when they share a Redis).',
  })
  onlineUsers!: number;

  @Field(() => Int, { description: 'Open graphql-ws connections and SSE subscriptions (every server process when they share a Redis).' })
  openConnections!: number;

  @Field(() => Int, { description: 'Orders placed in the last hour.' })
  ordersLastHour!: number;

  @Field(() => Float, { description: 'Revenue of the orders placed in the last hour, cancelled ones excluded.' })
  revenueLastHour!: number;

  @Field(() => Int, { description: 'Background jobs running now.' })
  runningJobs!: number;

  @Field(() => DateTimeScalar, { description: 'When these figures were computed.' })
  at!: Date;
}
