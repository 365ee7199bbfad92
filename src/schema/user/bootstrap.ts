/** Accounts created at start-up: the first admin from ADMIN_EMAIL/ADMIN_PASSWORD, when no account has that e-mail. */
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { UserService } from './user.service.js';

export async function bootstrapAdmin(users: UserService, config: Pick<Config, 'admin'>, log: Logger): Promise<void> {
  const { email, password } = config.admin;
  if (!email || !password) return;
  const result = await users.ensureAdmin(email, password);
  if (result.userErrors.length > 0) {
    // A weak or malformed bootstrap credential must stop the start, not leave a server without an admin.
    throw new Error(`ADMIN_EMAIL/ADMIN_PASSWORD rejected: ${result.userErrors.map((error) => error.message).join('; ')}`);
  }
  if (result.created) log.info({ email }, 'first admin created from ADMIN_EMAIL');
}
