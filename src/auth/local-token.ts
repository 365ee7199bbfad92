/**
 * What `npm run token` does, wherever it runs: in the CLI's own process on PostgreSQL or an unlocked DATA_DIR, or in
 * the running server, asked over its local socket (src/server/token-socket.ts), when that server holds DATA_DIR.
 * Either way the token belongs to a real session in the database the server reads, so the server accepts it.
 */
import type { AuthService } from '../schema/user/auth.service.js';
import type { UserService } from '../schema/user/user.service.js';
import { isScope } from './scopes.js';

export interface LocalTokenRequest {
  user: string;
  /** Requested scopes; null grants the role's defaults. */
  scopes: string[] | null;
}

export type LocalTokenResult =
  { ok: true; accessToken: string; username: string; role: string; expiresIn: number; scopes: string[] } | { ok: false; error: string };

export async function issueLocalToken(
  services: { users: Pick<UserService, 'findByLogin'>; auth: Pick<AuthService, 'startSession'> },
  request: LocalTokenRequest,
): Promise<LocalTokenResult> {
  const unknown = request.scopes?.filter((scope) => !isScope(scope)) ?? [];
  if (unknown.length > 0) return { ok: false, error: `unknown scope(s): ${unknown.join(', ')}` };
  const user = await services.users.findByLogin(request.user);
  if (!user) return { ok: false, error: `no user "${request.user}"` };
  if (!user.isActive) return { ok: false, error: `user "${user.username}" is inactive` };
  const session = await services.auth.startSession(user, request.scopes);
  return {
    ok: true,
    accessToken: session.accessToken!,
    username: user.username,
    role: user.role,
    expiresIn: session.expiresIn!,
    scopes: session.scopes ?? [],
  };
}
