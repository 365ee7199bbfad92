/**
 * Scopes (`resource:action`) and the one role → scope map. An OAuth2 catalogue (user, profile, posts, files,
 * analytics, admin, system) plus the product's own resources.
 */

export const ROLES = ['USER', 'MODERATOR', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

/** Every scope with its description, in the order `scopes` lists them. */
export const SCOPE_CATALOGUE = {
  // The OAuth2 catalogue, with its descriptions.
  'user:read': 'Read user information',
  'user:write': 'Write user information',
  'user:delete': 'Delete users',
  'profile:read': 'Read user profile',
  'profile:write': 'Write user profile',
  'admin:read': 'Read admin data',
  'admin:write': 'Write admin data',
  'admin:delete': 'Delete admin data',
  'posts:read': 'Read posts',
  'posts:write': 'Write posts',
  'posts:delete': 'Delete posts',
  'files:read': 'Read files',
  'files:write': 'Write files',
  'files:delete': 'Delete files',
  'analytics:read': 'Read analytics',
  'analytics:write': 'Write analytics',
  'system:read': 'Read system data',
  'system:write': 'Write system data',
  // The product's own resources.
  'items:read': 'Read the item catalog',
  'items:write': 'Create and change catalog items',
  'items:delete': 'Delete catalog items',
  'orders:read': "Read everyone's orders and watch orders being placed (staff)",
  'orders:write': 'Place orders; with orders:read, move any order through its statuses',
  'orders:delete': 'Cancel or delete orders',
  'tasks:read': 'Read tasks',
  'tasks:write': 'Create and change tasks',
  'tasks:delete': "Read, change and delete anyone's tasks (staff)",
  'chat:read': 'Read chat rooms and messages',
  'chat:write': 'Create rooms, join them and send messages',
  'chat:delete': 'Delete rooms and messages',
  'notifications:read': 'Read your notifications and mark them read',
  'notifications:write': 'Send notifications to other users',
  'notifications:delete': 'Delete notifications',
  'jobs:read': 'Read background jobs',
  'jobs:write': 'Start and cancel background jobs',
  'jobs:delete': 'Delete background jobs',
} as const satisfies Record<string, string>;

export type Scope = keyof typeof SCOPE_CATALOGUE;

export const ALL_SCOPES = Object.keys(SCOPE_CATALOGUE) as Scope[];

export function isScope(name: string): name is Scope {
  return Object.hasOwn(SCOPE_CATALOGUE, name);
}

/**
 * The role → scope map of the OAuth2 catalogue, widened: a USER also writes their own posts, files, tasks, orders and chat, and reads
 * the catalog and their notifications; ownership rules in the services keep those writes to the user's own rows.
 * Narrowed in one place: the catalogue's `user` role holds `user:read`, which here unlocks the user directory and other
 * people's e-mail addresses, so it starts at MODERATOR.
 *
 * Ownership on orders, tasks and posts (checked in their services; a row the viewer may not read is "not found"):
 * - orders: `orders:write` places one's own orders and cancels one's own PENDING order; `orders` and `node(id)` show
 *   one's own orders. `orders:read` (staff) reads everyone's and subscribes to `orderPlaced`; `orders:read` together
 *   with `orders:write` moves any order PENDING → PAID → SHIPPED or cancels it.
 * - tasks: `tasks:read`/`tasks:write` read and change the tasks one owns or is assigned (only the owner deletes);
 *   `tasks:delete` (staff) reads, changes and deletes anyone's.
 * - posts: `posts:read` reads every post and comment; `posts:write` creates posts and comments and changes or deletes
 *   one's own; `posts:delete` (moderation) changes and deletes anyone's posts and comments.
 */
const USER_SCOPES: Scope[] = [
  'profile:read',
  'profile:write',
  'posts:read',
  'posts:write',
  'files:read',
  'files:write',
  'items:read',
  'orders:write',
  'tasks:read',
  'tasks:write',
  'chat:read',
  'chat:write',
  'notifications:read',
  // Start and cancel one's own jobs; seeing everyone's (jobs:read) is for staff.
  'jobs:write',
];

const MODERATOR_SCOPES: Scope[] = [
  ...USER_SCOPES,
  'user:read',
  'orders:read',
  'posts:delete',
  'files:delete',
  'items:write',
  'tasks:delete',
  'chat:delete',
  // Staff who broadcast to colleagues; a USER's own notifications need only notifications:read.
  'notifications:write',
  'jobs:read',
  'analytics:read',
];

export const ROLE_SCOPES: Readonly<Record<Role, ReadonlySet<Scope>>> = {
  USER: new Set(USER_SCOPES),
  MODERATOR: new Set(MODERATOR_SCOPES),
  ADMIN: new Set(ALL_SCOPES),
};

/** The scopes a token may carry: the requested ones (all of the role's when none are named) within the role's. */
export function grantScopes(role: Role, requested: readonly string[] | null | undefined): Scope[] {
  const allowed = ROLE_SCOPES[role];
  if (requested == null) return ALL_SCOPES.filter((scope) => allowed.has(scope));
  return ALL_SCOPES.filter((scope) => allowed.has(scope) && requested.includes(scope));
}

/** Token scopes intersected with the role the user holds now: a demotion takes effect on the next request. */
// Computed per request and per subscription event for every subscriber, from a handful of distinct inputs: the sets
// are memoised (and frozen in use as ReadonlySet), which also lets scopeKey() cache its sorted form per set.
const effective = new Map<string, ReadonlySet<string>>();
const keys = new WeakMap<ReadonlySet<string>, string>();

// A verified token's claims are reused while the token lives (src/auth/tokens.ts), so its scope list is one array:
// the set for it is found by that array first, without joining the list into a key on every request.
const byTokenScopes = new WeakMap<readonly string[], Partial<Record<Role, ReadonlySet<string>>>>();

export function effectiveScopes(role: Role, tokenScopes: readonly string[]): ReadonlySet<string> {
  let perRole = byTokenScopes.get(tokenScopes);
  const known = perRole?.[role];
  if (known) return known;
  if (!perRole) byTokenScopes.set(tokenScopes, (perRole = {}));
  return (perRole[role] = effectiveScopesByList(role, tokenScopes));
}

function effectiveScopesByList(role: Role, tokenScopes: readonly string[]): ReadonlySet<string> {
  const cacheKey = `${role}\u0000${tokenScopes.join(' ')}`;
  let scopes = effective.get(cacheKey);
  if (!scopes) {
    const allowed = ROLE_SCOPES[role];
    scopes = new Set(tokenScopes.filter((scope) => allowed.has(scope as Scope)));
    // Bounded: roles × the scope lists tokens carry; a flood of distinct lists only recomputes.
    if (effective.size >= 1_000) effective.clear();
    effective.set(cacheKey, scopes);
  }
  return scopes;
}

/** A stable string for a scope set (sorted), computed once per set. */
export function scopeKey(scopes: ReadonlySet<string>): string {
  let key = keys.get(scopes);
  if (key === undefined) keys.set(scopes, (key = [...scopes].sort().join(' ')));
  return key;
}
