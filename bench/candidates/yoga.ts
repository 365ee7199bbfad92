/** Peer 3: GraphQL Yoga serving the same TypeGraphQL-built schema, with the same context builder. */
import { createServer } from 'node:http';
import { createYoga } from 'graphql-yoga';
import { benchPort, createStack, exitOnSignals } from './stack.js';

const stack = await createStack();

const yoga = createYoga({
  schema: stack.schema,
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: 'warn',
  context: ({ request }) => stack.context('http', request.headers.get('authorization')),
});

const server = createServer(yoga);
server.listen(benchPort(), '127.0.0.1');
exitOnSignals(async () => {
  server.close();
  await stack.close();
});
