import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  // TypeGraphQL needs legacy (experimental) decorators; Oxc does not read tsconfig for that.
  oxc: { decorator: { legacy: true } },
  resolve: {
    // One copy of graphql: without this, ESM and CJS entry points both load and schemas stop matching.
    alias: { graphql: require.resolve('graphql/index.js') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['test/helpers/setup.ts'],
  },
});
