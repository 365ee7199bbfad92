/** Every Drizzle table of OpsHub. drizzle-kit reads this module to generate `drizzle/` migrations. */
export * from './tables/items.js';
export * from './tables/users.js';
