import type { PubSub } from '../../pubsub/pubsub.js';
import type { Executor } from '../../db/client.js';
import type { Authentication } from '../../auth/identity.js';
import type { NotificationRow } from '../../db/tables.js';
import { signedIn } from '../shared/authorize.js';
import { Topic, type NotificationEvent, type Topics } from '../../pubsub/topics.js';
import type { ConnectionHandle } from '../../realtime/connections.js';
import { bounded, type StreamCount } from '../../realtime/queue.js';
import { orderedStream, REPLAY_PAGE_SIZE, type Positioned } from '../../realtime/ordered.js';
import { encodeStreamCursor, resumePosition, type ReplayLimits } from '../shared/stream-cursor.js';
import { pageRequest, toConnection, type ConnectionArgs } from '../shared/connection.js';
import { badUserInput } from '../shared/errors.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import { UserErrorCode, UserErrors } from '../shared/user-error.js';
import { checkLength } from '../shared/validation.js';
import { MAX_MARK_READ_IDS, MAX_RECIPIENTS, type SendNotificationInput } from './notification.input.js';
import { notificationSort, type NotificationRepo } from './notification.repo.js';
import { BODY_MAX, Notification, NotificationKind, TITLE_MAX, type SendNotificationPayload } from './notification.type.js';

export interface NotificationContent {
  kind?: NotificationKind | `${NotificationKind}`;
  title: string;
  body: string;
}

export interface Notified {
  /** How many rows were stored (one per recipient). */
  count: number;
  /**
   * Publishes `notificationReceived` for the stored rows. `notify` without a transaction has already called it;
   * with a transaction the caller calls it after that transaction committed, so nobody is told of a rolled-back row.
   */
  publish(): void;
}

export interface NotificationServiceDeps {
  repo: NotificationRepo;
  pubsub: PubSub<Topics>;
  activeUserIds: (ids: readonly string[]) => Promise<Set<string>>;
  queueLimit: number;
  streams?: StreamCount;
  /** How far back a resuming subscription may start. */
  replay: ReplayLimits;
}

function toEvent(row: NotificationRow, prev: number): NotificationEvent {
  return {
    id: row.id,
    userId: row.userId,
    kind: row.kind,
    title: row.title,
    body: row.body,
    createdAt: row.createdAt.toISOString(),
    seq: row.seq,
    prev,
  };
}

/** Notifications: stored per user, pushed to their subscriptions. */
export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  /** A notification is its recipient's only. */
  visible(viewerId: string | null, row: Pick<NotificationRow, 'userId'>): boolean {
    return row.userId === viewerId;
  }

  list(auth: Authentication, args: ConnectionArgs, unreadOnly: boolean) {
    const viewerId = signedIn(auth).id;
    const page = pageRequest(args, notificationSort.kind);
    return this.deps.repo
      .page(viewerId, unreadOnly, page)
      .then((rows) => toConnection(rows, page, notificationSort, Notification.fromRow, () => this.deps.repo.count(viewerId, unreadOnly)));
  }

  /**
   * `notificationReceived`: the viewer's new notifications, on every connection they have open, in `seq` order; with
   * `after`, those stored after that cursor first (src/realtime/ordered.ts).
   */
  async received(
    auth: Authentication,
    after?: string | null,
    connection?: ConnectionHandle,
  ): Promise<AsyncIterableIterator<Positioned<NotificationEvent>>> {
    const viewerId = signedIn(auth).id;
    const { repo } = this.deps;
    const stream = { kind: 'notifications', id: viewerId } as const;
    const from = await resumePosition(after ?? connection?.lastEventId, stream, repo.streamStore(viewerId), this.deps.replay);
    const live = bounded(
      this.deps.pubsub.subscribe(Topic.NotificationReceived, viewerId),
      this.deps.queueLimit,
      connection,
      this.deps.streams,
    );
    return orderedStream(live, {
      positionOf: (event) => ({ seq: event.seq, prev: event.prev }),
      start: async () => from ?? (await repo.streamHead(viewerId)),
      replay: from !== null,
      load: async (afterSeq, before, limit) => (await repo.streamPage(viewerId, afterSeq, before, limit)).map((row) => toEvent(row, 0)),
      pageSize: REPLAY_PAGE_SIZE,
      onDeliver: (position) => connection?.delivered?.(encodeStreamCursor(stream, position)),
    });
  }

  /** Marks the viewer's own notifications read: those listed, or all when `ids` is null. Returns how many changed. */
  async markRead(auth: Authentication, ids: readonly string[] | null | undefined): Promise<number> {
    const viewerId = signedIn(auth).id;
    if (ids && ids.length > MAX_MARK_READ_IDS) throw badUserInput(`At most ${MAX_MARK_READ_IDS} ids`, { argument: 'ids' });
    const rowIds = ids ? ids.map((id) => fromGlobalId(id, 'Notification')) : null;
    if (rowIds && rowIds.length === 0) return 0;
    return this.deps.repo.markRead(viewerId, rowIds);
  }

  /** `sendNotification`: validates, stores one row per existing active recipient, publishes after commit. */
  async send(input: SendNotificationInput): Promise<SendNotificationPayload> {
    const errors = new UserErrors();
    const title = checkLength(input.title, errors, ['input', 'title'], 'Title', 1, TITLE_MAX);
    const body = checkLength(input.body, errors, ['input', 'body'], 'Body', 1, BODY_MAX);
    if (input.userIds.length === 0) errors.add(['input', 'userIds'], 'At least one recipient is required');
    if (input.userIds.length > MAX_RECIPIENTS) errors.add(['input', 'userIds'], `At most ${MAX_RECIPIENTS} recipients`);
    const rowIds = input.userIds.map((id) => parseGlobalId(id, 'User'));
    if (errors.any) return { sentCount: 0, userErrors: errors.list };
    const active = await this.deps.activeUserIds(rowIds.filter((id): id is string => id !== null));
    rowIds.forEach((id, index) => {
      if (!id || !active.has(id)) errors.add(['input', 'userIds', String(index)], 'User not found', UserErrorCode.NOT_FOUND);
    });
    if (errors.any) return { sentCount: 0, userErrors: errors.list };
    const { count } = await this.notify([...active], { kind: input.kind ?? NotificationKind.INFO, title, body });
    return { sentCount: count, userErrors: [] };
  }

  /**
   * Stores one notification per user (row ids, not global ids) and publishes `notificationReceived` for each.
   * Without `tx` the rows are committed when this resolves and already published; with `tx`, call `publish()`
   * after the transaction commits. Other domains (job handlers) call this for their side effects.
   */
  async notify(userIds: readonly string[], content: NotificationContent, tx?: Executor): Promise<Notified> {
    const rows = await (tx ? this.deps.repo.in(tx) : this.deps.repo).insertMany(
      [...new Set(userIds)].map((userId) => ({
        userId,
        kind: (content.kind ?? NotificationKind.INFO) as NotificationRow['kind'],
        title: content.title.trim().slice(0, TITLE_MAX),
        body: content.body.trim().slice(0, BODY_MAX),
      })),
    );
    let published = false;
    const publish = () => {
      if (published) return;
      published = true;
      for (const row of rows) this.deps.pubsub.publish(Topic.NotificationReceived, row.userId, toEvent(row, row.prev));
    };
    if (!tx) publish();
    return { count: rows.length, publish };
  }
}
