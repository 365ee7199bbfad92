/**
 * Defaults of the configuration, one typed object per concern; src/config.ts overrides them from the environment and
 * re-exports them, so the modules that use a concern import its type and defaults from there. The README's
 * configuration table shows the same values.
 */

/** The database connection pool (src/db/client.ts), overridable by DB_*. */
export const databaseDefaults = {
  // PostgreSQL's `statement_timeout` on every pooled connection: past it PostgreSQL cancels the statement (SQLSTATE
  // 57014), so one hostile filter cannot hold a connection, and the pool, for as long as it likes. 0 turns it off.
  statementTimeoutMs: 10_000, // ms
};

/** Operation limits, checked before anything executes (src/server/limits.ts). */
export interface OperationLimits {
  /** Selection depth, fragments flattened. */
  depth: number;
  aliases: number;
  /** Lexical tokens of the document (graphql-js `maxTokens`). */
  tokens: number;
  directives: number;
  rootFields: number;
  /** UTF-8 bytes of the query text. */
  documentBytes: number;
  /** Static cost in points (src/server/limits.ts `costOf`). */
  cost: number;
  /**
   * Fields one response name may gather in a selection set once fragments and same-named fields are merged: the
   * input of graphql-js's overlapping-fields check, which is quadratic in it.
   */
  repeatedFields: number;
}

/** GitHub-like limits, overridable by LIMIT_*. */
export const defaultLimits: OperationLimits = {
  depth: 12,
  aliases: 30,
  tokens: 5_000,
  directives: 50,
  rootFields: 20,
  documentBytes: 100 * 1_024, // bytes of the query text
  cost: 50_000, // points
  repeatedFields: 50,
};

/** Stricter limits for NODE_ENV=production, overridable by LIMIT_* as well. */
export const productionLimits: OperationLimits = {
  depth: 10,
  aliases: 20,
  tokens: 3_000,
  directives: 20,
  rootFields: 10,
  documentBytes: 50 * 1_024, // bytes of the query text
  cost: 50_000, // points
  repeatedFields: 50,
};

/** Cost-based budgets (src/schema/rate-limit/): points per window, per user by role or per client IP. */
export interface RateLimitConfig {
  /** Length of a budget window in ms; it opens with the subject's first charge. */
  windowMs: number;
  /** Points per window for anonymous callers, per client IP. */
  anonymous: number;
  user: number;
  moderator: number;
  admin: number;
}

/** Overridable by RATE_LIMIT_*. */
export const rateLimitDefaults: RateLimitConfig = {
  windowMs: 60 * 60 * 1_000, // one hour, as GitHub's budgets
  // An IP budget is shared by everyone behind one NAT or proxy, so it follows a per-IP rule (1,000 requests
  // per hour per IP) rather than a per-account free tier (100/h): with a plain query costing one point, an
  // anonymous client keeps that request rate.
  anonymous: 1_000, // points per window
  user: 5_000, // points per window
  moderator: 20_000, // points per window
  admin: 20_000, // points per window
};

/** Discount codes `placeOrder` accepts: code → percent off. */
export type DiscountCodes = ReadonlyMap<string, number>;

/** The built-in discount codes, overridable by DISCOUNT_CODES. */
export const discountCodeDefaults: DiscountCodes = new Map([
  ['SAVE10', 10], // percent off
  ['DISC20', 20],
  ['OFFER30', 30],
]);

/** What a file is for: the size limit and the content types allowed follow from it (src/schema/file/). */
export const FILE_PURPOSES = ['AVATAR', 'ITEM_IMAGE', 'ATTACHMENT'] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** Files and uploads (src/schema/file/, src/storage/), overridable by FILE_* and UPLOAD_*. */
export const fileDefaults = {
  maxBytes: 10 * 1_024 * 1_024, // bytes per file, for every purpose (the seeds' `max_file_size`)
  maxPerEntity: 10, // files attached to one item, task or post
  userQuotaBytes: 100 * 1_024 * 1_024, // bytes of files one user may hold
  uploadUrlTtlSeconds: 15 * 60, // s an upload URL stays usable
  downloadUrlTtlSeconds: 5 * 60, // s a file's `url` stays valid
  orphanGraceMs: 24 * 60 * 60 * 1_000, // ms a file may stay attached to nothing before the clean-up removes it
};
