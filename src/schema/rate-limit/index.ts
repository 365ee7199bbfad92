import type { DomainModule } from '../shared/domain.js';
import { RateLimitResolver } from './rate-limit.resolver.js';

export const rateLimitModule: DomainModule = { resolvers: [RateLimitResolver] };
