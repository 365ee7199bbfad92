/**
 * NOTIFY (internal, never in the public schema): stores and pushes notifications that a mutation caused (a comment
 * on your post, your order's new status, a direct message). Enqueued in the mutation's transaction as a system job.
 */
import { paramsObject, stringList, text } from '../params.js';
import { JobPriority, type JobDefinition } from '../types.js';

export const NOTIFICATION_KINDS = ['INFO', 'SUCCESS', 'WARNING', 'ERROR'] as const;
export type NotificationKindName = (typeof NOTIFICATION_KINDS)[number];

export interface NotifyParams {
  userIds: string[];
  kind: NotificationKindName;
  title: string;
  body: string;
}

export type Notify = (
  userIds: readonly string[],
  content: { kind: NotificationKindName; title: string; body: string },
) => Promise<{ count: number }>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function notify(deps: { notify: Notify }): JobDefinition<NotifyParams> {
  return {
    kind: 'NOTIFY',
    // Someone is waiting for it (a direct message, a comment): ahead of any bulk work.
    priority: JobPriority.HIGH,
    scopes: [],
    forbiddenMessage: 'Insufficient permissions',
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['userIds', 'kind', 'title', 'body']);
      const userIds = stringList(params, 'userIds', errors, path, { label: 'User ids', max: 1_000, entryMax: 36 }) ?? [];
      if (userIds.some((id) => !UUID.test(id))) errors.add([...path, 'userIds'], 'User ids must be uuids');
      const kind = (params.kind ?? 'INFO') as NotificationKindName;
      if (!NOTIFICATION_KINDS.includes(kind)) errors.add([...path, 'kind'], 'Unknown notification kind');
      return {
        userIds,
        kind,
        title: text(params, 'title', errors, path, { label: 'Title', min: 1, max: 200, required: true }) ?? '',
        body: text(params, 'body', errors, path, { label: 'Body', min: 1, max: 2_000, required: true }) ?? '',
      };
    },
    // At least once: a process that dies between storing and completing stores them again on the retry.
    async run({ params }) {
      const { count } = await deps.notify(params.userIds, { kind: params.kind, title: params.title, body: params.body });
      return { notified: count };
    },
  };
}
