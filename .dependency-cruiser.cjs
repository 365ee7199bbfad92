/**
 * The house rules, checked by `npm run lint`: imports point down only — transports (src/server) → schema
 * (resolvers, types) → services → repositories → db — with no cycles, and nothing below the resolvers knows the
 * GraphQL transport libraries, Fastify or sockets.
 */
const TRANSPORT_LIBRARIES = '^node_modules/(type-graphql|fastify|@fastify|ws|graphql-ws|graphql-sse|@apollo|@as-integrations)/';
const BELOW_RESOLVERS =
  '^src/(auth|db|jobs|pubsub|realtime|storage)/|^src/schema/[^/]+/[^/]+\\.(service|repo|loaders)\\.ts$|^src/config\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and layers meaningless.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'transports-on-top',
      severity: 'error',
      comment: 'Only the entry point wires the transports; nothing else may reach up into src/server.',
      from: { path: '^src/', pathNot: '^src/(server/|main\\.ts$)' },
      to: { path: '^src/server/' },
    },
    {
      name: 'no-async-hooks',
      severity: 'error',
      comment:
        'No AsyncLocalStorage or async hook: on Node 20 an enabled one adds work to every promise of the process. What an operation needs reaches it through its context (src/db/statement-scope.ts).',
      from: { path: '^src/' },
      to: { path: '^(node:)?async_hooks$' },
    },
    {
      name: 'no-transport-below-resolvers',
      severity: 'error',
      comment: 'Services, repositories and everything below them see a typed context, never Fastify, sockets or GraphQL transport code.',
      from: { path: BELOW_RESOLVERS },
      to: { path: TRANSPORT_LIBRARIES },
    },
    {
      name: 'no-resolvers-below',
      severity: 'error',
      comment: 'Resolvers are the top of the schema layer: services, repositories and loaders do not import them.',
      from: { path: BELOW_RESOLVERS },
      to: { path: '\\.resolver\\.ts$|^src/schema/(index|emit)\\.ts$' },
    },
    {
      name: 'repos-below-services',
      severity: 'error',
      comment: 'Repositories own SQL and know nothing of the rules above them.',
      from: { path: '\\.repo\\.ts$|^src/db/' },
      to: { path: '\\.(service|resolver|type|input)\\.ts$|^src/(auth|jobs|realtime|pubsub)/' },
    },
    {
      name: 'db-at-the-bottom',
      severity: 'error',
      comment: 'The database layer imports only configuration and libraries.',
      from: { path: '^src/db/' },
      to: { path: '^src/', pathNot: '^src/(db/|config\\.ts$)' },
    },
    {
      name: 'config-at-the-bottom',
      severity: 'error',
      comment: 'Configuration is read first and depends on nothing of the application.',
      from: { path: '^src/config\\.ts$' },
      to: { path: '^src/', pathNot: '^src/config' },
    },
    {
      name: 'tests-and-bench-not-imported',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
