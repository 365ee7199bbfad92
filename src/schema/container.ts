/**
 * Wiring: repositories (SQL), services (rules and transactions) and the per-request DataLoader factory.
 * Created once per process; loaders are created anew for every request and every subscription event. A query or
 * mutation sees the services and loaders through its own view (`forOperation`), whose statements run on its database.
 */
import type { PubSub } from '../pubsub/pubsub.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { scopedDatabase, type StatementScope } from '../db/statement-scope.js';
import type { Topics } from '../pubsub/topics.js';
import { lazyObjectFactory } from './shared/lazy.js';
import { operationViews } from './shared/operation-views.js';
import { itemLoaders } from './item/item.loaders.js';
import { ItemRepo } from './item/item.repo.js';
import { ItemService } from './item/item.service.js';
import { orderLoaders } from './order/order.loaders.js';
import { OrderRepo } from './order/order.repo.js';
import { OrderService } from './order/order.service.js';
import { postLoaders } from './post/post.loaders.js';
import { PostRepo } from './post/post.repo.js';
import { PostService } from './post/post.service.js';
import { taskLoaders } from './task/task.loaders.js';
import { TaskRepo } from './task/task.repo.js';
import { TaskService } from './task/task.service.js';
import { RateLimitService } from './rate-limit/rate-limit.service.js';
import { createRateLimitStore } from './rate-limit/rate-limit.store.js';
import { TokenService } from '../auth/tokens.js';
import { AuthService } from './user/auth.service.js';
import { SessionRepo } from './user/session.repo.js';
import { userLoaders } from './user/user.loaders.js';
import { UserRepo } from './user/user.repo.js';
import { UserService } from './user/user.service.js';
import { createRealtime } from '../realtime/realtime.js';
import { chatLoaders } from './chat/chat.loaders.js';
import { ChatRepo } from './chat/chat.repo.js';
import { ChatService } from './chat/chat.service.js';
import { DashboardService } from './dashboard/dashboard.service.js';
import { notificationLoaders } from './notification/notification.loaders.js';
import { NotificationRepo } from './notification/notification.repo.js';
import { NotificationService } from './notification/notification.service.js';
import { defaultJobDefinitions, jobRegistry } from '../jobs/registry.js';
import type { JobDefinition } from '../jobs/types.js';
import { jobLoaders } from './job/job.loaders.js';
import { JobRepo } from '../jobs/job.repo.js';
import { OutboxRepo } from '../jobs/outbox.repo.js';
import { JobQueue } from '../jobs/queue.js';
import { JobService } from './job/job.service.js';
import { fileLoaders } from './file/file.loaders.js';
import { FileRepo } from './file/file.repo.js';
import { FileService } from './file/file.service.js';
import { createStorage } from '../storage/index.js';
import { UrlSigner } from '../storage/signing.js';

export interface ContainerDeps {
  config: Config;
  db: Database;
  pubsub: PubSub<Topics>;
  /** Job kinds added to or replacing the defaults (tests inject handlers that fail on purpose). */
  jobHandlers?: readonly JobDefinition[];
}

export function createContainer({ config, db, pubsub, jobHandlers = [] }: ContainerDeps) {
  const repos = {
    items: new ItemRepo(db),
    users: new UserRepo(db),
    sessions: new SessionRepo(db),
    orders: new OrderRepo(db),
    tasks: new TaskRepo(db),
    posts: new PostRepo(db),
    chat: new ChatRepo(db),
    notifications: new NotificationRepo(db),
    jobs: new JobRepo(db),
    outbox: new OutboxRepo(db),
    files: new FileRepo(db),
  };
  const tokens = new TokenService(config);
  const realtime = createRealtime(config, pubsub, (roomId) => repos.chat.memberIds(roomId));
  const users = new UserService({ db, repo: repos.users, sessions: repos.sessions, pubsub, live: realtime.sessions });
  const queueLimit = config.realtime.subscriptionQueueLimit;
  const replay = { retentionMs: config.realtime.streamRetentionMs, maxEvents: config.realtime.streamReplayMax };
  const notifications = new NotificationService({
    repo: repos.notifications,
    pubsub,
    activeUserIds: (ids) => repos.chat.activeUserIds(ids),
    queueLimit,
    streams: realtime.streams,
    replay,
  });
  const storage = createStorage(config.files, db);
  // The queue: other services enqueue their side effects with `queue.enqueue(tx, …)` inside their transactions.
  const queue = new JobQueue({
    db,
    repo: repos.jobs,
    pubsub,
    definitions: jobRegistry([
      ...defaultJobDefinitions({
        ...repos,
        config: config.jobs,
        storage,
        fileOrphanGraceMs: config.files.orphanGraceMs,
        uploadSettleMs: config.http.requestTimeoutMs,
        notify: (userIds, content) => notifications.notify(userIds, content),
      }),
      ...jobHandlers,
    ]),
  });
  const signer = new UrlSigner(config.files.urlSecret);
  const tasks = new TaskService({ repo: repos.tasks });
  const services = {
    items: new ItemService({ repo: repos.items, pubsub }),
    orders: new OrderService({ db, repo: repos.orders, pubsub, discountCodes: config.discountCodes, jobs: queue, queueLimit, replay }),
    tasks,
    posts: new PostService({ db, repo: repos.posts, pubsub, jobs: queue }),
    rateLimit: new RateLimitService({ store: createRateLimitStore(config.redisUrl, config.redisPrefix), config: config.rateLimit }),
    tokens,
    users,
    auth: new AuthService({ db, users, sessions: repos.sessions, tokens, config, jobs: queue, live: realtime.sessions }),
    realtime,
    notifications,
    chat: new ChatService({ repo: repos.chat, pubsub, notifications, db, jobs: queue, queueLimit, ...realtime, replay }),
    dashboard: new DashboardService({
      connections: realtime.connections,
      sources: { ordersSince: (since) => repos.orders.statsSince(since), runningJobs: () => repos.jobs.countRunning() },
      queueLimit,
    }),
    jobs: new JobService({ queue, repo: repos.jobs, pubsub, config: config.jobs, replay }),
    files: new FileService({
      db,
      repo: repos.files,
      storage,
      jobs: queue,
      signer,
      config: config.files,
      targets: {
        items: (ids) => repos.items.findByIds(ids),
        tasks: (ids) => repos.tasks.findByIds(ids),
        posts: (ids) => repos.posts.findByIds(ids),
        users: (ids) => repos.users.findByIds(ids),
        taskVisible: (auth, row) => tasks.visible(auth, row),
      },
    }),
  };
  type Repos = typeof repos;
  type View = <T>(base: T) => T;
  /** A domain's loaders, built on the repositories they are asked for (the process's, or an operation's view). */
  const onRepos = <R, L extends Record<string, () => unknown>>(pick: (scoped: Repos) => R, loaders: (repo: R) => L) =>
    Object.fromEntries(Object.keys(loaders(pick(repos))).map((key) => [key, (scoped: Repos) => loaders(pick(scoped))[key]!()])) as {
      [K in keyof L]: (scoped: Repos) => ReturnType<L[K]>;
    };
  const newLoaders = lazyObjectFactory({
    ...onRepos((r) => r.items, itemLoaders),
    ...onRepos((r) => r.users, userLoaders),
    ...onRepos((r) => r.orders, orderLoaders),
    ...onRepos((r) => r.tasks, taskLoaders),
    ...onRepos((r) => r.posts, postLoaders),
    ...onRepos((r) => r.chat, chatLoaders),
    ...onRepos((r) => r.notifications, notificationLoaders),
    ...onRepos((r) => r.jobs, jobLoaders),
    ...onRepos((r) => r.files, fileLoaders),
  });
  const each = <T extends object>(of: T) =>
    Object.fromEntries(Object.keys(of).map((key) => [key, (view: View) => view(of[key as keyof T])])) as {
      [K in keyof T]: (view: View) => T[K];
    };
  const repoViews = lazyObjectFactory(each(repos));
  const serviceViews = lazyObjectFactory(each(services));
  const views = operationViews(db, [...Object.values(repos), ...Object.values(services), queue, services.auth.limiter]);

  return {
    db,
    repos,
    services,
    /** The job queue (src/jobs): side effects are enqueued into it, the runner claims from it. */
    queue,
    pubsub,
    /** Releases what the services hold outside the database (the rate-limit store's Redis connection). */
    async close() {
      await services.realtime.close();
      await services.realtime.sessions.close();
      storage.close?.();
      services.dashboard.ticker.close();
      await services.rateLimit.close();
    },
    /** Per-request (and per-event) DataLoaders on the process's repositories, each built on first use. */
    newLoaders: () => newLoaders(repos),
    /**
     * The services and loaders of one query or mutation: their statements run on a database that counts them in
     * `scope.stats` and cancels them with `scope.cancellation`. The process's own when the scope asks nothing.
     */
    forOperation(scope: StatementScope) {
      const scoped = scopedDatabase(db, scope);
      if (scoped === db) return { services, loaders: newLoaders(repos) };
      const view = views(scoped);
      return { services: serviceViews(view) as typeof services, loaders: newLoaders(repoViews(view) as Repos) };
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
export type Services = Container['services'];
export type Loaders = ReturnType<Container['newLoaders']>;
