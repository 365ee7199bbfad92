/** Chat fixtures for the realtime tests: rooms, graphql-ws clients whose raw socket a test can reach, waiting. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createUser, type TestRole, type TestUser } from '../helpers/auth.js';
import type { TestServer } from '../helpers/server.js';

export const ROOM_EVENTS = /* GraphQL */ `
  subscription RoomEvents($roomId: ID!) {
    roomEvents(roomId: $roomId) {
      __typename
      ... on MessagePosted { message { id body author { username } } }
      ... on MemberJoined { user { username } }
      ... on MemberLeft { user { username } }
      ... on TypingChanged { user { username } typing }
    }
  }
`;

export const SEND_MESSAGE = /* GraphQL */ `
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) { message { id body createdAt } userErrors { field message code } }
  }
`;

export const SET_TYPING = /* GraphQL */ `
  mutation Typing($roomId: ID!, $typing: Boolean!) { setTyping(roomId: $roomId, typing: $typing) }
`;

const CREATE_ROOM = /* GraphQL */ `
  mutation Create($input: CreateRoomInput!) { createRoom(input: $input) { room { id name } userErrors { field message code } } }
`;

export const JOIN_ROOM = /* GraphQL */ `
  mutation Join($roomId: ID!) { joinRoom(roomId: $roomId) { room { id } userErrors { field message code } } }
`;

export const LEAVE_ROOM = /* GraphQL */ `
  mutation Leave($roomId: ID!) { leaveRoom(roomId: $roomId) { room { id } userErrors { field message code } } }
`;

let roomCounter = 0;

/** A room created by `owner` and joined by each of `members`; returns its global id. */
export async function createRoom(server: TestServer, owner: TestUser, members: TestUser[] = [], name?: string): Promise<string> {
  const { body } = await server.gql(CREATE_ROOM, { input: { name: name ?? `room ${process.pid}-${++roomCounter}` } }, { token: owner.token });
  const roomId = body.data?.createRoom.room?.id as string | undefined;
  if (!roomId) throw new Error(`createRoom failed: ${JSON.stringify(body)}`);
  for (const member of members) {
    const joined = await server.gql(JOIN_ROOM, { roomId }, { token: member.token });
    if (!joined.body.data?.joinRoom.room) throw new Error(`joinRoom failed: ${JSON.stringify(joined.body)}`);
  }
  return roomId;
}

export async function users(server: TestServer, count: number, role: TestRole = 'USER'): Promise<TestUser[]> {
  const created: TestUser[] = [];
  for (let i = 0; i < count; i++) created.push(await createUser(server, { role }));
  return created;
}

export async function sendMessage(server: TestServer, user: TestUser, roomId: string, body: string) {
  const response = await server.gql(SEND_MESSAGE, { input: { roomId, body } }, { token: user.token });
  return response.body;
}

/** A WebSocket class that records every socket it opens in `sockets`. */
function trackingWebSocket(sockets: WebSocket[]) {
  return class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  };
}

export interface RawClient {
  client: Client;
  /** The underlying WebSocket (once connected). */
  socket(): WebSocket;
  dispose(): Promise<void>;
}

/** A graphql-ws client that exposes its `ws` socket, so a test can pause it or cut its TCP connection. */
export function rawClient(server: TestServer, token: string | null, registry: RawClient[]): RawClient {
  const sockets: WebSocket[] = [];
  const TrackedWebSocket = trackingWebSocket(sockets);
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: TrackedWebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
  });
  const raw: RawClient = {
    client,
    socket: () => {
      const socket = sockets[0];
      if (!socket) throw new Error('not connected');
      return socket;
    },
    async dispose() {
      await client.dispose();
      for (const socket of sockets) socket.terminate();
    },
  };
  registry.push(raw);
  return raw;
}

/** Runs one query or mutation over a graphql-ws client. */
export function run<T = Record<string, any>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, any> }> }> {
  return new Promise((resolve, reject) => {
    let result: any;
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          result = value;
        },
        error: (error) => (Array.isArray(error) ? resolve({ errors: error as never }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });
}

/** Resolves once `check` holds, checking on every turn of the event loop; rejects after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Follower {
  /** The `MessagePosted` messages in the order they arrived, over every connection. */
  messages: Array<{ id: string; body: string }>;
  errors: unknown[];
  /** The sockets the client opened, the current one last. */
  sockets: WebSocket[];
  dispose(): Promise<void>;
}

/**
 * The README's reconnect recipe: a graphql-ws client with `retryAttempts`, whose subscription payload carries the
 * last `streamCursor` received in `variables.after` (graphql-ws sends the same payload object again on every
 * reconnect), so a retried `roomEvents` subscription resumes where the dropped one stopped. `query` selects
 * `streamCursor` on every event and `message { id body }` on MessagePosted.
 */
export function followRoom(url: () => string, token: string, roomId: string, query: string): Follower {
  const sockets: WebSocket[] = [];
  const TrackedWebSocket = trackingWebSocket(sockets);
  const client = createClient({
    url,
    webSocketImpl: TrackedWebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 600,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
    shouldRetry: () => true,
    onNonLazyError: () => {},
  });
  const payload = { query, variables: { roomId, after: null as string | null } };
  const follower: Follower = { messages: [], errors: [], sockets, dispose: async () => {} };
  const unsubscribe = client.subscribe<Record<string, any>>(payload, {
    next: (result) => {
      const event = result.data?.roomEvents;
      if (!event) return void follower.errors.push(result.errors);
      if (event.__typename === 'MessagePosted') follower.messages.push(event.message);
      payload.variables.after = event.streamCursor;
    },
    error: (error) => follower.errors.push(error),
    complete: () => {},
  });
  follower.dispose = async () => {
    unsubscribe();
    await client.dispose();
    for (const socket of sockets) socket.terminate();
  };
  return follower;
}
