import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context.js';
import { Topic, type UserEvent } from '../../pubsub/topics.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { DeletePayload } from '../shared/payloads.js';
import { ChangePasswordInput, SetUserActiveInput, SetUserRoleInput, UpdateProfileInput, UserFilter, UserOrder } from './user.input.js';
import { ChangePasswordPayload, User, UserChange, UserChangeKind, userFromEvent, UserPayload } from './user.type.js';

export const { ConnectionType: UserConnection } = connectionTypes(User, 'User', 'users');

/** Accounts: the directory (staff), one's own profile and password, and user administration (ADMIN). */
@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  async viewer(@Ctx() ctx: Context): Promise<User | null> {
    if (!ctx.viewer) return null;
    const row = await ctx.loaders.user.load(ctx.viewer.id);
    return row && User.fromRow(row);
  }

  @Authorized('user:read')
  @Query(() => UserConnection, { description: 'Every account, filtered and sorted (newest first by default).' })
  users(
    @Args(() => ConnectionArgs) args: ConnectionArgs,
    @Arg('filter', () => UserFilter, { nullable: true, description: 'Only accounts matching every given filter.' })
    filter: UserFilter | null,
    @Arg('orderBy', () => UserOrder, { nullable: true, description: 'Sort order; CREATED_AT DESC when absent.' })
    orderBy: UserOrder | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.users.search(args, filter, orderBy);
  }

  @Authorized('profile:write')
  @Mutation(() => UserPayload, { description: "Changes the viewer's own profile (full name, bio, phone, birth date)." })
  updateProfile(
    @Arg('input', () => UpdateProfileInput, { description: 'The fields to change.' }) input: UpdateProfileInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.users.updateProfile(ctx, input);
  }

  @Authorized('profile:write')
  @Mutation(() => ChangePasswordPayload, {
    description:
      "Changes the viewer's password (the current one is required). Every other session of the user ends and its " +
      'sockets close with 4403 "password changed"; the session that asked stays signed in.',
  })
  changePassword(
    @Arg('input', () => ChangePasswordInput, { description: 'The current and the new password.' }) input: ChangePasswordInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.users.changePassword(ctx, input);
  }

  @Authorized('user:write')
  @Mutation(() => UserPayload, {
    description:
      'ADMIN: changes a user\'s role; their sockets close with 4403 "role changed". The last active admin cannot be demoted (FORBIDDEN).',
  })
  setUserRole(@Arg('input', () => SetUserRoleInput, { description: 'The user and the role.' }) input: SetUserRoleInput, @Ctx() ctx: Context) {
    return ctx.services.users.setUserRole(ctx, input);
  }

  @Authorized('user:write')
  @Mutation(() => UserPayload, {
    description:
      'ADMIN: deactivates or reactivates a user. A deactivated user cannot sign in and their sockets close with 4403 ' +
      '"account deactivated". The last active admin cannot be deactivated (FORBIDDEN).',
  })
  setUserActive(
    @Arg('input', () => SetUserActiveInput, { description: 'The user and the new state.' }) input: SetUserActiveInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.users.setUserActive(ctx, input);
  }

  @Authorized('user:delete')
  @Mutation(() => DeletePayload, {
    description:
      'ADMIN: deletes a user with their posts, comments, owned rooms, messages, memberships, owned tasks, notifications ' +
      'and jobs (tasks assigned to them become unassigned). A user who placed orders is not deleted (FORBIDDEN: orders ' +
      'are kept with who placed them; deactivate instead), nor is the last active admin.',
  })
  deleteUser(@Arg('id', () => ID, { description: 'The user to delete.' }) id: string, @Ctx() ctx: Context) {
    return ctx.services.users.delete(ctx, id);
  }

  @Authorized('user:read')
  @Subscription(() => UserChange, {
    topics: Topic.UserUpdated,
    description: 'Staff: every account changed (profile, role, activation) or deleted, after the change is committed.',
  })
  userUpdated(@Root() event: UserEvent): UserChange {
    return { change: event.change as UserChangeKind, user: userFromEvent(event.user) };
  }
}
