import type { DomainModule } from '../shared/domain.js';
import { MessageResolver, RoomResolver } from './chat.resolver.js';
import { Message, Room } from './chat.type.js';

export const chatModule: DomainModule = {
  resolvers: [RoomResolver, MessageResolver],
  nodes: {
    // Rooms are listed to every chat:read holder (so they can be found and joined).
    Room: {
      scopes: ['chat:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.room.load(id);
        return row && Room.fromRow(row);
      },
    },
    Message: {
      scopes: ['chat:read'],
      fetch: async (ctx, id) => {
        const row = await ctx.loaders.message.load(id);
        const viewerId = ctx.viewer!.id;
        const isMember = (roomId: string) => ctx.loaders.membership.load({ roomId, userId: viewerId });
        return row && (await ctx.services.chat.messageVisible(viewerId, row, isMember)) ? Message.fromRow(row) : null;
      },
    },
  },
};
