import type { ConnectionRegistry, ConnectionHandle } from '../../realtime/connections.js';
import { SharedTicker } from '../../realtime/ticker.js';
import { badUserInput } from '../shared/errors.js';
import { DASHBOARD_INTERVAL, DashboardStats } from './dashboard.type.js';

/** Where the business figures come from; each domain provides its own (0 until it does). */
export interface DashboardSources {
  ordersSince(since: Date): Promise<{ count: number; revenueCents: number }>;
  runningJobs(): Promise<number>;
}

const HOUR = 60 * 60 * 1_000; // ms

export interface DashboardServiceDeps {
  connections: ConnectionRegistry;
  sources: DashboardSources;
  queueLimit: number;
  onError?: (error: unknown) => void;
}

/** Dashboard figures: computed on demand, or once per interval for all subscribers. */
export class DashboardService {
  readonly ticker: SharedTicker<DashboardStats>;

  constructor(private readonly deps: DashboardServiceDeps) {
    this.ticker = new SharedTicker(() => this.compute(), deps.queueLimit, deps.onError);
  }

  async compute(): Promise<DashboardStats> {
    const now = new Date();
    // Connections over every process with REDIS_URL (this process's without it, or while Redis is down).
    const [orders, runningJobs, online] = await Promise.all([
      this.deps.sources.ordersSince(new Date(now.getTime() - HOUR)),
      this.deps.sources.runningJobs(),
      this.deps.connections.counts(),
    ]);
    return Object.assign(new DashboardStats(), {
      onlineUsers: online.onlineUsers,
      openConnections: online.connections,
      ordersLastHour: orders.count,
      revenueLastHour: orders.revenueCents / 100,
      runningJobs,
      at: now,
    });
  }

  /** `dashboardStats(intervalMs)`: one shared computation per interval; BAD_USER_INPUT outside 500–60000 ms. */
  subscribe(intervalMs: number | null | undefined, connection?: ConnectionHandle): AsyncIterableIterator<DashboardStats> {
    const interval = intervalMs ?? DASHBOARD_INTERVAL.default;
    if (!Number.isInteger(interval) || interval < DASHBOARD_INTERVAL.min || interval > DASHBOARD_INTERVAL.max) {
      throw badUserInput(`intervalMs must be between ${DASHBOARD_INTERVAL.min} and ${DASHBOARD_INTERVAL.max}`, {
        argument: 'intervalMs',
      });
    }
    return this.ticker.subscribe(interval, () => connection?.drop('Subscriber too slow'));
  }
}
