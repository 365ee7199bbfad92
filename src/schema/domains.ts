/**
 * Every domain of the schema, once: the schema is built from their resolvers and `node(id)` from their node types.
 * A new domain adds its folder (copy `item/`), its line here, and its repository and service in container.ts.
 */
import { chatModule } from './chat/index.js';
import { dashboardModule } from './dashboard/index.js';
import { fileModule } from './file/index.js';
import { itemModule } from './item/index.js';
import { jobModule } from './job/index.js';
import { notificationModule } from './notification/index.js';
import { orderModule } from './order/index.js';
import { postModule } from './post/index.js';
import { rateLimitModule } from './rate-limit/index.js';
import type { DomainModule } from './shared/domain.js';
import { taskModule } from './task/index.js';
import { userModule } from './user/index.js';

export const domains: readonly DomainModule[] = [
  itemModule,
  orderModule,
  taskModule,
  postModule,
  userModule,
  rateLimitModule,
  jobModule,
  chatModule,
  notificationModule,
  dashboardModule,
  fileModule,
];
