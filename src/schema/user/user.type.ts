import { Field, ID, Int, ObjectType, registerEnumType, UseMiddleware } from 'type-graphql';
import { visibleToOwnerOr } from '../shared/authorize.js';
import type { Role as RoleName } from '../../auth/scopes.js';
import type { UserProfileRow } from '../../db/tables.js';
import type { UserEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { DateTimeScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';

/** Field limits: the service checks them and the descriptions state them, so both read these. */
export const USERNAME_MIN = 3;
export const USERNAME_MAX = 20;
export const FULL_NAME_MIN = 2;
export const FULL_NAME_MAX = 100;

export enum Role {
  USER = 'USER',
  MODERATOR = 'MODERATOR',
  ADMIN = 'ADMIN',
}

registerEnumType(Role, {
  name: 'Role',
  description: 'What a user may do; each role maps to a set of scopes (see `scopes`).',
  valuesConfig: {
    USER: { description: 'Staff member: reads the catalog, writes their own posts, files, tasks, orders and chat.' },
    MODERATOR: { description: 'Also moderates posts, files and chat, edits the catalog and reads the user directory.' },
    ADMIN: { description: 'Every scope.' },
  },
});

@ObjectType({ implements: Node, description: 'A person who signs in to OpsHub.' })
export class User implements Node {
  readonly __typename = 'User';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid, for loaders, services and ownership checks. */
  rowId!: string;

  /** True for the user of an AuthPayload: the caller has just proven to be them (register, login, refresh). */
  signedIn = false;

  @Field(() => String, {
    description: `Unique login name (ignoring case): ${USERNAME_MIN} to ${USERNAME_MAX} letters, digits or underscores.`,
  })
  username!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Lower-case e-mail address; null unless the viewer is this user or holds `user:read`.',
  })
  @UseMiddleware(visibleToOwnerOr<User>((user, viewerId) => user.signedIn || user.rowId === viewerId, 'user:read'))
  email!: string | null;

  @Field(() => String, { nullable: true, description: `Full name, ${FULL_NAME_MIN} to ${FULL_NAME_MAX} characters.` })
  fullName!: string | null;

  @Field(() => String, { nullable: true, description: 'About the user (updateProfile).' })
  bio!: string | null;

  @Field(() => String, { nullable: true, description: 'Phone number; null unless the viewer is this user or holds `user:read`.' })
  @UseMiddleware(visibleToOwnerOr<User>((user, viewerId) => user.signedIn || user.rowId === viewerId, 'user:read'))
  phone!: string | null;

  @Field(() => String, { nullable: true, description: 'Birth date (YYYY-MM-DD); null unless the viewer is this user or holds `user:read`.' })
  @UseMiddleware(visibleToOwnerOr<User>((user, viewerId) => user.signedIn || user.rowId === viewerId, 'user:read'))
  birthDate!: string | null;

  @Field(() => Role, { description: 'The role, which determines the scopes a login can obtain.' })
  role!: Role;

  @Field(() => Boolean, { description: 'False once the account is deactivated: it can no longer sign in.' })
  isActive!: boolean;

  @Field(() => DateTimeScalar, { description: 'When the account was created.' })
  createdAt!: Date;

  /** The user a register/login/refresh payload returns to the person who just signed in as them. */
  static signedInFromRow(row: UserProfileRow): User {
    return Object.assign(User.fromRow(row), { signedIn: true });
  }

  static fromRow(row: UserProfileRow): User {
    return Object.assign(new User(), {
      id: toGlobalId('User', row.id),
      rowId: row.id,
      username: row.username,
      email: row.email,
      fullName: row.fullName,
      bio: row.bio,
      phone: row.phone,
      birthDate: row.birthDate,
      role: row.role as Role,
      isActive: row.isActive,
      createdAt: row.createdAt,
    });
  }
}

export type { RoleName };

@ObjectType({ description: 'A permission, `resource:action`, that tokens carry and operations require.' })
export class Scope {
  @Field(() => String, { description: 'The scope, e.g. `items:write`.' })
  name!: string;

  @Field(() => String, { description: 'What the scope allows.' })
  description!: string;
}

@ObjectType({ description: 'A signed-in device or client: one refresh-token family, from login until logout or expiry.' })
export class Session {
  @Field(() => ID, { description: 'Session id; the `sid` claim of its access tokens.' })
  id!: string;

  @Field(() => DateTimeScalar, { description: 'When the session started (the login).' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { description: 'When its current refresh token expires unless used before.' })
  expiresAt!: Date;

  @Field(() => Boolean, { description: 'True for the session of the access token making this request.' })
  current!: boolean;

  @Field(() => Int, {
    description: 'Open graphql-ws sockets and SSE subscription streams of the session on the process answering.',
  })
  openSockets!: number;

  @Field(() => DateTimeScalar, {
    description:
      'The last operation, event stream or token renewal of the session seen by the process answering, or its last refresh if later.',
  })
  lastActivityAt!: Date;
}

@ObjectType({ description: 'Result of register, login and refreshSession: a token pair on success.' })
export class AuthPayload {
  @Field(() => String, { nullable: true, description: 'Bearer access token (JWT); send as `Authorization: Bearer …`.' })
  accessToken!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Opaque refresh token for `refreshSession`; single use, replaced on every refresh.',
  })
  refreshToken!: string | null;

  @Field(() => Int, { nullable: true, description: 'Seconds until the access token expires.' })
  expiresIn!: number | null;

  @Field(() => [String], { nullable: true, description: 'The scopes granted to the access token.' })
  scopes!: string[] | null;

  @Field(() => User, { nullable: true, description: 'The signed-in user.' })
  user!: User | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of a mutation on one account.' })
export class UserPayload {
  @Field(() => User, { nullable: true, description: 'The account as it is now; null when the mutation failed.' })
  user!: User | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of changePassword.' })
export class ChangePasswordPayload {
  @Field(() => User, { nullable: true, description: 'The viewer; null when the password was not changed.' })
  user!: User | null;

  @Field(() => Int, { description: "How many of the user's other sessions were live and have ended." })
  revokedSessions!: number;

  @Field(() => [UserError], { description: 'Why the password was not changed; empty on success.' })
  userErrors!: UserError[];
}

@ObjectType({ description: 'Result of revokeSession and revokeUserSessions.' })
export class RevokeSessionsPayload {
  @Field(() => Int, { description: 'How many sessions were live and have ended.' })
  revokedSessions!: number;

  @Field(() => [UserError], { description: 'Why nothing was revoked; empty on success.' })
  userErrors!: UserError[];
}

export enum UserChangeKind {
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}

registerEnumType(UserChangeKind, {
  name: 'UserChangeKind',
  description: 'What happened to an account.',
  valuesConfig: {
    UPDATED: { description: 'Its profile, role or activation changed.' },
    DELETED: { description: 'It was deleted.' },
  },
});

@ObjectType({ description: 'An account change, for staff: changed (profile, role, activation) or deleted.' })
export class UserChange {
  @Field(() => UserChangeKind, { description: 'What happened to the account.' })
  change!: UserChangeKind;

  @Field(() => User, { description: 'The account after the change (as it was, for a deletion).' })
  user!: User;
}

/** A user as it travels through pub/sub (no password hash, no private profile fields beyond the User type's own rules). */
export function userFromEvent(event: UserEvent['user']): User {
  return Object.assign(new User(), {
    id: toGlobalId('User', event.id),
    rowId: event.id,
    username: event.username,
    email: event.email,
    fullName: event.fullName,
    bio: event.bio,
    phone: event.phone,
    birthDate: event.birthDate,
    role: event.role as Role,
    isActive: event.isActive,
    createdAt: new Date(event.createdAt),
  });
}
