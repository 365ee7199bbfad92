/** Peer 4: Mercurius with graphql-jit (compiled after the first run of a query) on a Fastify instance of its own. */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { benchPort, createStack, exitOnSignals } from './stack.js';

const stack = await createStack();

const app = Fastify({ logger: { level: stack.config.logLevel } });
await app.register(mercurius, {
  schema: stack.schema,
  path: '/graphql',
  graphiql: false,
  jit: 1,
  context: (request) => stack.context('http', request.headers.authorization),
});

await app.listen({ port: benchPort(), host: '127.0.0.1' });
exitOnSignals(async () => {
  await app.close();
  await stack.close();
});
