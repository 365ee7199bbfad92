import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { ConnectionArgs, connectionTypes } from '../shared/connection.js';
import { User } from './user.type.js';

export const { ConnectionType: UserConnection } = connectionTypes(User, 'User', 'users');

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  async viewer(@Ctx() ctx: Context): Promise<User | null> {
    if (!ctx.viewer) return null;
    const row = await ctx.loaders.user.load(ctx.viewer.id);
    return row && User.fromRow(row);
  }

  @Authorized('user:read')
  @Query(() => UserConnection, { description: 'Every account, newest first.' })
  users(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: Context) {
    return ctx.services.users.list(args);
  }
}
