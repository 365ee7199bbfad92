/**
 * The one authorization rule of the schema. `@Authorized('a:read', 'b:write')` means: signed in AND holding every
 * listed scope; `@Authorized()` means: signed in. Anonymous callers get UNAUTHENTICATED, signed-in callers without a
 * scope get FORBIDDEN with `extensions.missingScopes`. Ownership (a USER edits only their own rows) is checked in the
 * services, next to the rows it protects.
 */
import type { AuthCheckerFn, MiddlewareFn } from 'type-graphql';
import type { Authentication, Viewer } from '../../auth/identity.js';
import { forbidden, unauthenticated } from './errors.js';

export function missingScopes(ctx: Pick<Authentication, 'scopes'>, required: readonly string[]): string[] {
  return required.filter((scope) => !ctx.scopes.has(scope));
}

/** The signed-in caller of an operation that requires one (UNAUTHENTICATED otherwise, as `@Authorized()`). */
export function signedIn(auth: Pick<Authentication, 'viewer'>): Viewer {
  if (!auth.viewer) throw unauthenticated();
  return auth.viewer;
}

/** Throws the same errors as `@Authorized` would; for rules that depend on an argument (node(id) per type). */
export function requireScopes(ctx: Pick<Authentication, 'viewer' | 'scopes'>, required: readonly string[]): void {
  if (!ctx.viewer) throw unauthenticated();
  const missing = missingScopes(ctx, required);
  if (missing.length > 0) throw forbidden(missing);
}

export const authChecker: AuthCheckerFn<Authentication> = ({ context }, scopes) => {
  requireScopes(context, scopes);
  return true;
};

/**
 * A field visible only to the object's owner or to holders of every listed scope; everyone else reads null
 * (e.g. `@UseMiddleware(visibleToOwnerOr((user, viewerId) => user.rowId === viewerId, 'user:read'))` on `User.email`).
 */
export function visibleToOwnerOr<T>(
  isOwner: (root: T, viewerId: string | null) => boolean,
  ...scopes: string[]
): MiddlewareFn<Authentication> {
  return async ({ root, context }, next) => {
    const viewerId = context.viewer?.id ?? null;
    if (isOwner(root as T, viewerId) || (viewerId && missingScopes(context, scopes).length === 0)) return next();
    return null;
  };
}
