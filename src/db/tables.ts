/** Every Drizzle table of OpsHub. drizzle-kit reads this module to generate `drizzle/` migrations. */
export * from './tables/items.js';
export * from './tables/users.js';
export * from './tables/orders.js';
export * from './tables/tasks.js';
export * from './tables/posts.js';
export * from './tables/chat.js';
export * from './tables/notifications.js';
export * from './tables/jobs.js';
export * from './tables/files.js';
