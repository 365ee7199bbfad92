/**
 * The OpsHub stack without its transport: configuration, database, pub/sub, container, TypeGraphQL schema and the
 * one context builder — wired as src/server/compose.ts wires them, so every peer runs the same resolvers and SQL.
 * Keep this in step with createApp when its wiring changes.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { createContextBuilder, type Context, type Transport } from '../../src/schema/context.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { createAppPubSub } from '../../src/pubsub/pubsub.js';
import { createContainer } from '../../src/schema/container.js';
import { createSchema } from '../../src/schema/index.js';

export interface Stack {
  config: Config;
  database: DatabaseHandle;
  schema: Awaited<ReturnType<typeof createSchema>>;
  log: FastifyBaseLogger;
  /** The context OpsHub would build for this request. */
  context(transport: Transport, authorization: string | null | undefined): Promise<Context>;
  contextBuilder: ReturnType<typeof createContextBuilder>;
  close(): Promise<void>;
}

export async function createStack(): Promise<Stack> {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const pubsub = createAppPubSub(config.redisUrl);
  const container = createContainer({ config, db: database.db, pubsub: pubsub.pubsub });
  const schema = await createSchema({ pubsub: pubsub.pubsub });
  const contextBuilder = createContextBuilder(container);
  const log = pino({ level: config.logLevel }) as unknown as FastifyBaseLogger;
  return {
    config,
    database,
    schema,
    log,
    contextBuilder,
    context: async (transport, authorization) =>
      contextBuilder.build({
        requestId: randomUUID(),
        transport,
        clientAddress: '127.0.0.1',
        authentication: await contextBuilder.authenticate(authorization),
        log,
      }),
    async close() {
      await pubsub.close();
      await database.close();
    },
  };
}

/** Exits on SIGTERM/SIGINT through process.exit, so `--cpu-prof` profiles are written. */
export function exitOnSignals(close: () => Promise<void>): void {
  const stop = () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export { benchPort } from './port.js';
