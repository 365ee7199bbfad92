/**
 * Typed pub/sub topics. Payloads are small and JSON-safe (ISO dates, ids), because with REDIS_URL they cross
 * processes as JSON. Each subscriber's own context decides what it may see.
 */
export enum Topic {
  ItemChanged = 'ITEM_CHANGED',
  OrderPlaced = 'ORDER_PLACED',
  PostPublished = 'POST_PUBLISHED',
  /** Routed by room id. */
  RoomEvent = 'ROOM_EVENT',
  /** Routed by the recipient's user id. */
  DirectMessage = 'DIRECT_MESSAGE',
  /** Routed by the recipient's user id. */
  NotificationReceived = 'NOTIFICATION_RECEIVED',
  /** Routed by job id. */
  JobUpdated = 'JOB_UPDATED',
  /** A session or a user's sessions ended: every process closes the matching live connections. */
  SessionRevoked = 'SESSION_REVOKED',
  /** An account changed (profile, role, activation, deletion): for staff dashboards. */
  UserUpdated = 'USER_UPDATED',
}

export type ChangeKind = 'CREATED' | 'UPDATED' | 'DELETED';

/** An item as it travels through pub/sub. */
export interface ItemEvent {
  change: ChangeKind;
  item: {
    id: string;
    sku: string;
    name: string;
    description: string | null;
    priceCents: number;
    category: string;
    tags: string[];
    stock: number;
    createdAt: string;
    updatedAt: string;
  };
}

/** An order as it travels through pub/sub, published once its transaction committed. */
export interface OrderEvent {
  order: {
    id: string;
    itemId: string;
    placedBy: string;
    quantity: number;
    unitPriceCents: number;
    discountCode: string | null;
    discountPercent: number;
    totalCents: number;
    status: string;
    createdAt: string;
    updatedAt: string;
    seq: number;
  };
  /** The `seq` of the order placed before it (src/db/streams.ts). */
  prev: number;
}

/** A post as it travels through pub/sub, published once it committed. */
export interface PostEvent {
  post: { id: string; authorId: string; title: string; body: string; createdAt: string; updatedAt: string };
}

/**
 * A room or direct message as it travels through pub/sub, published once it committed. `seq` orders its stream (the
 * room, or the recipient's direct messages); `prev` is the `seq` of the stream's message before it, so a subscriber
 * can tell a gap from a quiet stream (src/realtime/ordered.ts).
 */
export interface MessageEventData {
  id: string;
  roomId: string | null;
  recipientId: string | null;
  authorId: string;
  body: string;
  createdAt: string;
  seq: number;
  prev: number;
}

/**
 * Everything that happens in a room. JOINED/LEFT with `membership: true` are joinRoom/leaveRoom; with `membership:
 * false` they are presence (a member's first subscription to the room opened, or their last one closed).
 */
export type RoomEvent =
  | { type: 'MESSAGE'; roomId: string; message: MessageEventData }
  | { type: 'JOINED' | 'LEFT'; roomId: string; userId: string; membership: boolean }
  | { type: 'TYPING'; roomId: string; userId: string; typing: boolean };

/** A stored notification as it travels through pub/sub, published once it committed. */
export interface NotificationEvent {
  id: string;
  userId: string;
  kind: string;
  title: string;
  body: string;
  createdAt: string;
  /** The order of the user's notifications, and the `seq` of the one before it (see MessageEventData). */
  seq: number;
  prev: number;
}

/** A job's state as it travels through pub/sub. `revision` grows with every change, so older events can be dropped. */
export interface JobEvent {
  id: string;
  kind: string;
  status: string;
  progress: number;
  result: unknown;
  error: string | null;
  ownerId: string | null;
  attempts: number;
  revision: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Which live connections a revocation ends: the user's, narrowed to one session or sparing one. */
export interface SessionRevocation {
  userId: string;
  /** Only this session's connections. */
  sessionId?: string | null;
  /** Every session's connections but this one (changePassword keeps the session that changed it). */
  exceptSessionId?: string | null;
  /** The close reason the clients see. */
  reason: string;
}

/** An account change as staff see it through `userUpdated`. */
export interface UserEvent {
  change: 'UPDATED' | 'DELETED';
  user: {
    id: string;
    username: string;
    email: string;
    fullName: string | null;
    bio: string | null;
    phone: string | null;
    birthDate: string | null;
    role: string;
    isActive: boolean;
    createdAt: string;
  };
}

export type Topics = {
  [Topic.ItemChanged]: [ItemEvent];
  [Topic.OrderPlaced]: [OrderEvent];
  [Topic.PostPublished]: [PostEvent];
  [Topic.RoomEvent]: [roomId: string, event: RoomEvent];
  [Topic.DirectMessage]: [recipientId: string, message: MessageEventData];
  [Topic.NotificationReceived]: [userId: string, notification: NotificationEvent];
  [Topic.JobUpdated]: [jobId: string, job: JobEvent];
  [Topic.SessionRevoked]: [SessionRevocation];
  [Topic.UserUpdated]: [UserEvent];
};
