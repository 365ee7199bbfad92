/**
 * Stream cursors: the resume point carried by every event of a stored event stream (`streamCursor`), taken back by
 * the subscription's `after` argument (or SSE's `Last-Event-ID`). Opaque to clients; inside, the stream it belongs to
 * and a position in that stream's `seq` order (src/db/streams.ts). A cursor is checked against the stream it is
 * offered to and against the database: one from another stream, one that names no stored event, or one that does not
 * decode is BAD_USER_INPUT; one whose event is older than the retention, or that lies more events back than a replay
 * may deliver, is CURSOR_EXPIRED (the client refetches the history, then subscribes from its newest event).
 */
import { badUserInput, DomainError, ErrorCode } from './errors.js';

export type StreamKind = 'room' | 'direct' | 'notifications' | 'job' | 'orders';

/** One stream: its kind and the room, user or job it belongs to ('' for the orders stream). */
export interface StreamRef {
  kind: StreamKind;
  id: string;
}

/** What a replay may deliver: events no older than `retentionMs`, at most `maxEvents` of them. */
export interface ReplayLimits {
  retentionMs: number;
  maxEvents: number;
}

/** The stored side of a stream, as a resume check reads it. */
export interface StreamStore {
  /** When the event at `seq` was stored; null when the stream has no such event. */
  storedAt(seq: number): Promise<Date | null>;
  /** When the stream's first event after `seq` was stored; null when there is none. */
  firstAfter(seq: number): Promise<Date | null>;
  /** How many events follow `seq`, counting at most to `limit`. */
  countAfter(seq: number, limit: number): Promise<number>;
}

/**
 * A resumable subscription field declares the page its replay reads (`@Extensions({ [REPLAY_PAGE_EXTENSION]: n })`):
 * subscribed with `after`, it is priced like a history page of n events, so resuming costs what reading the history
 * would (src/server/limits.ts).
 */
export const REPLAY_PAGE_EXTENSION = 'replayPageSize';

const PREFIX = 's1';
const MAX_CURSOR_LENGTH = 200;

function streamKey(stream: StreamRef): string {
  return `${stream.kind}:${stream.id}`;
}

/** Lock name of a stream's writers (src/db/streams.ts). */
export function streamLockKey(stream: StreamRef): string {
  return `stream:${streamKey(stream)}`;
}

export function encodeStreamCursor(stream: StreamRef, position: number): string {
  return Buffer.from(`${PREFIX}:${streamKey(stream)}:${position}`).toString('base64url');
}

export function cursorExpired(message: string, extensions: Record<string, unknown> = {}): DomainError {
  return new DomainError(ErrorCode.CURSOR_EXPIRED, message, extensions);
}

/** The position in `stream` that `cursor` names; BAD_USER_INPUT for anything else. */
export function decodeStreamCursor(cursor: string, stream: StreamRef, argument = 'after'): number {
  const invalid = (message: string) => badUserInput(message, { argument });
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid(`Invalid cursor in "${argument}"`);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^s1:(room|direct|notifications|job|orders):([0-9a-f-]{36}|):(0|[1-9][0-9]{0,15})$/.exec(text);
  if (!match) throw invalid(`Invalid cursor in "${argument}"`);
  if (match[1] !== stream.kind || match[2] !== stream.id) throw invalid(`The cursor in "${argument}" belongs to another stream`);
  const position = Number(match[3]);
  if (!Number.isSafeInteger(position)) throw invalid(`Invalid cursor in "${argument}"`);
  return position;
}

/**
 * Where a resuming subscription starts: the position `cursor` names, checked against the stream's stored events and
 * the replay limits (see the module comment). Null without a cursor.
 */
export async function resumePosition(
  cursor: string | null | undefined,
  stream: StreamRef,
  store: StreamStore,
  limits: ReplayLimits,
  argument = 'after',
): Promise<number | null> {
  if (cursor === null || cursor === undefined) return null;
  const position = decodeStreamCursor(cursor, stream, argument);
  const oldest = new Date(Date.now() - limits.retentionMs);
  // Position 0 is the start of a stream that had no event yet when the cursor was issued.
  const at = position > 0 ? await store.storedAt(position) : await store.firstAfter(0);
  if (position > 0 && !at) throw badUserInput(`The cursor in "${argument}" names no event of this stream`, { argument });
  if (at && at < oldest) {
    throw cursorExpired(`The cursor in "${argument}" is older than the ${limits.retentionMs} ms retention: refetch, then resume`, {
      argument,
      retentionMs: limits.retentionMs,
    });
  }
  if ((await store.countAfter(position, limits.maxEvents + 1)) > limits.maxEvents) {
    throw cursorExpired(`More than ${limits.maxEvents} events followed the cursor in "${argument}": refetch, then resume`, {
      argument,
      maxEvents: limits.maxEvents,
    });
  }
  return position;
}
