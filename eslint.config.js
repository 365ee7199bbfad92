import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Correctness rules only: layout belongs to Prettier, so no stylistic rules are enabled here. The
// type-checked presets are left out on purpose: `npm run lint` must stay fast.
const TYPESCRIPT = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts', '*.ts'];
const TESTS_AND_BENCH = ['test/**/*.ts', 'bench/**/*.ts'];

export default defineConfig([
  globalIgnores(['**/node_modules/', 'drizzle/', 'bench/results/', 'test/artifacts/', '.data/', 'dist/']),
  {
    files: TYPESCRIPT,
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      // A leading underscore marks a binding that is unused on purpose (a required parameter, a skipped tuple slot).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      // `handle?.drop(reason) ?? socket.terminate()` is the house idiom for "the first of these that exists"; a
      // short-circuit whose right side does nothing is still reported.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true }],
    },
  },
  {
    // Tests and benchmarks read untyped JSON responses; typing every payload would add noise, not safety.
    files: TESTS_AND_BENCH,
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
  },
  {
    // Served to the browser as a classic script: it runs next to the GraphiQL, React and graphql-ws bundles.
    files: ['src/server/graphiql-init.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly',
        location: 'readonly',
        URL: 'readonly',
        GraphiQL: 'readonly',
        graphqlWs: 'readonly',
        React: 'readonly',
        ReactDOM: 'readonly',
      },
    },
  },
  {
    // Served to the browser as a classic script, after uPlot's and graphql-ws's browser bundles.
    files: ['src/dashboard/dashboard.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly',
        location: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        URL: 'readonly',
        Intl: 'readonly',
        ResizeObserver: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        uPlot: 'readonly',
        graphqlWs: 'readonly',
      },
    },
  },
]);
