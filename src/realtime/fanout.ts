/**
 * Shared fan-out: the subscribers of one pub/sub event who share its execution (subscriptions marked @SharedEvents,
 * on a transport that writes its frames itself) are handled together, in one batch per event. The batch is filled
 * by the publisher's own dispatch loop, so it holds every local subscriber of the event before it runs; running it
 * checks each distinct (user, session) once, executes once per (document, variables, scopes), serializes each result
 * once and then writes every subscriber's frame in one synchronous loop. Without it, every subscriber carried the
 * event through half a dozen promise steps of its own, and with a thousand subscribers the first frame left only
 * after every subscriber had taken the first steps.
 *
 * Order: the batches of one group (one document and variables) run one after the other, so each subscriber gets its
 * events in the order they were published. Bound: a subscriber whose events pile up in batches that have not run yet
 * (the execution waits on the database) is dropped past its limit, as the per-subscriber queue drops it; a client
 * that stops reading is bounded by its socket's outgoing buffer, which the transport checks at each write.
 */
import type { TopicSubscription } from '../pubsub/pubsub.js';
import { EventQueue } from './queue.js';

/** Writes one `next` frame whose payload is `json` (already serialized) for the event it belongs to. */
export type WriteNext = (json: string, event: unknown) => void;

/**
 * One subscription of a shared group. What the transport reads is `stream`, an EventQueue that is never pushed to (the
 * batches write its events): it settles when the subscription stops (`done`) or fails (the error), so the transport's
 * loop completes or reports it as it would for any stream, and its `return()` stops the subscription.
 */
export class SharedSubscriber<A> {
  /** Events this subscriber joined whose batch has not written them yet. */
  pending = 0;
  readonly stream: EventQueue<never>;

  constructor(
    /** What the core knows of the subscription (its admission). */
    readonly subject: A,
    readonly key: string,
    readonly write: WriteNext,
    source: TopicSubscription<unknown>,
    onStop: (subscriber: SharedSubscriber<A>) => void,
  ) {
    this.stream = new EventQueue<never>(0, {
      onEnd: () => {
        void source.return();
        onStop(this);
      },
    });
  }

  get stopped(): boolean {
    return this.stream.closed;
  }

  /** Ends the subscription with `error`: its reader's pending or next `next()` rejects with it. */
  fail(error: unknown): void {
    this.stream.finish(error);
  }

  /** Ends the subscription: its reader gets `done`. */
  stop(): void {
    this.stream.end();
  }
}

interface Batch<A> {
  event: unknown;
  subscribers: SharedSubscriber<A>[];
}

interface Group<A> {
  /** Subscribers open in the group. */
  size: number;
  /** The batch still taking subscribers (not started), or null. */
  open: Batch<A> | null;
  /** The last batch scheduled: the next one runs after it. */
  tail: Promise<void>;
}

export class SharedFanout<A> {
  private readonly groups = new Map<string, Group<A>>();

  constructor(
    private readonly options: {
      /** Runs one batch: every subscriber's event written, or the subscriber failed. Never rejects. */
      run(event: unknown, subscribers: SharedSubscriber<A>[]): Promise<void>;
      /** Batches a subscriber may wait on before it counts as too slow. */
      limit: number;
      /** Called for a subscriber past its limit, once it completed: its connection is dropped. */
      onOverflow(subscriber: SharedSubscriber<A>): void;
      /** A batch that rejected (a bug): reported, its subscribers failed, and the group goes on. */
      onError(error: unknown, subscribers: SharedSubscriber<A>[]): void;
    },
  ) {}

  /** Opens a subscriber of group `key` fed by `source` (a pub/sub subscription, attached at once). */
  subscribe(subject: A, key: string, source: TopicSubscription<unknown>, write: WriteNext): SharedSubscriber<A> {
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { size: 0, open: null, tail: Promise.resolve() }));
    group.size += 1;
    const subscriber = new SharedSubscriber(subject, key, write, source, (gone) => this.leave(gone.key));
    // The group is held by the subscriber's sink: a subscriber stays in its group until it stops, and a stopped one
    // joins nothing, so the publisher's loop needs no lookup per subscriber.
    const joined = group;
    source.attach((event) => this.join(subscriber, joined, event));
    return subscriber;
  }

  /** Called from the publisher's loop for each subscriber: the event joins the batch that is taking subscribers. */
  private join(subscriber: SharedSubscriber<A>, group: Group<A>, event: unknown): void {
    if (subscriber.stopped) return;
    if (subscriber.pending >= this.options.limit) {
      subscriber.stop();
      this.options.onOverflow(subscriber);
      return;
    }
    subscriber.pending += 1;
    let batch = group.open;
    // Only the same event object joins a batch: the pub/sub hands every subscriber of one event the same object.
    if (!batch || batch.event !== event || typeof event !== 'object' || event === null) {
      const next: Batch<A> = { event, subscribers: [] };
      group.open = batch = next;
      group.tail = group.tail
        .then(() => {
          if (group.open === next) group.open = null;
          return this.options.run(next.event, next.subscribers);
        })
        .catch((error: unknown) => {
          this.options.onError(error, next.subscribers);
          for (const gone of next.subscribers) gone.fail(error);
        });
    }
    batch.subscribers.push(subscriber);
  }

  private leave(key: string): void {
    const group = this.groups.get(key);
    if (!group) return;
    group.size -= 1;
    // Batches already scheduled keep their own references; a subscriber that joins later starts a new group.
    if (group.size === 0) this.groups.delete(key);
  }
}
