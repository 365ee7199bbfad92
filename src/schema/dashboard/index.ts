import type { DomainModule } from '../shared/domain.js';
import { DashboardResolver } from './dashboard.resolver.js';

export const dashboardModule: DomainModule = { resolvers: [DashboardResolver] };
