/**
 * The layering rules in .dependency-cruiser.cjs are only worth having if they fire. Each case writes a few files at the
 * paths the rules match into a fresh directory outside the repository and cruises it with the real rule set, so a rule
 * whose path pattern stops matching, or a config option that stops resolving imports, fails here.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Violation {
  rule: string;
  from: string;
  to: string;
}

// A fixture's tsconfig: the compiler options that decide how dependency-cruiser parses and resolves the real code.
const FIXTURE_TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    experimentalDecorators: true,
    noEmit: true,
  },
  include: ['src'],
});

// Stand-ins for the transport libraries: the rules match resolved paths under node_modules/, so an import of a
// package that does not resolve would slip past them.
const LIBRARY_STUBS: Record<string, string> = Object.fromEntries(
  ['fastify', 'type-graphql'].flatMap((name) => [
    [`node_modules/${name}/package.json`, JSON.stringify({ name, version: '0.0.0', main: 'index.js' })],
    [`node_modules/${name}/index.js`, 'module.exports = {};\n'],
  ]),
);

let fixtures: string;
let rules: ICruiseOptions;
let fixtureCount = 0;

beforeAll(async () => {
  fixtures = mkdtempSync(path.join(os.tmpdir(), 'opshub-layering-'));
  rules = await extractDepcruiseOptions(path.join(repoRoot, '.dependency-cruiser.cjs'));
});

afterAll(() => {
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
});

async function cruiseTree(baseDir: string, tsConfigFile: string): Promise<ICruiseResult> {
  const options: ICruiseOptions = { ...rules, baseDir, tsConfig: { fileName: tsConfigFile } };
  const { output } = await cruise(['src'], options, undefined, { tsConfig: extractTSConfig(tsConfigFile) });
  if (typeof output === 'string') throw new Error('expected the cruise result object, not a report');
  return output;
}

/** Writes `files` (path → source) into a fresh fixture and cruises its src/ with the real rules. */
async function cruiseFixture(files: Record<string, string>): Promise<ICruiseResult> {
  const dir = path.join(fixtures, String(fixtureCount++));
  for (const [file, source] of Object.entries({ ...LIBRARY_STUBS, 'tsconfig.json': FIXTURE_TSCONFIG, ...files })) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), source);
  }
  const result = await cruiseTree(dir, path.join(dir, 'tsconfig.json'));
  // A fixture import that does not resolve would make a missing violation look like a clean tree.
  const unresolved = result.modules.flatMap((module) => module.dependencies.filter((dependency) => dependency.couldNotResolve));
  expect(unresolved.map((dependency) => dependency.module)).toEqual([]);
  return result;
}

function violationsOf(result: ICruiseResult): Violation[] {
  return result.summary.violations.map((violation) => ({ rule: violation.rule.name, from: violation.from, to: violation.to }));
}

describe('the layering rules', () => {
  it.each([
    {
      what: 'the database layer reaching up into the transports',
      from: 'src/db/a.ts',
      to: 'src/server/b.ts',
      rules: ['db-at-the-bottom', 'transports-on-top'],
    },
    {
      what: 'the database layer importing the container',
      from: 'src/db/client.ts',
      to: 'src/schema/container.ts',
      rules: ['db-at-the-bottom'],
    },
    {
      what: 'a repository importing its service',
      from: 'src/schema/item/item.repo.ts',
      to: 'src/schema/item/item.service.ts',
      rules: ['repos-below-services'],
    },
    {
      what: 'a service importing its resolver',
      from: 'src/schema/item/item.service.ts',
      to: 'src/schema/item/item.resolver.ts',
      rules: ['no-resolvers-below'],
    },
    { what: 'configuration importing the database layer', from: 'src/config.ts', to: 'src/db/client.ts', rules: ['config-at-the-bottom'] },
    {
      what: 'application code importing a test helper',
      from: 'src/auth/a.ts',
      to: 'test/helpers/b.ts',
      rules: ['tests-and-bench-not-imported'],
    },
  ])('reports $what under $rules', async ({ from, to, rules: expected }) => {
    const specifier = path.posix.relative(path.posix.dirname(from), to).replace(/\.ts$/, '.js');
    const result = await cruiseFixture({
      [from]: `import { b } from '${specifier.startsWith('.') ? specifier : `./${specifier}`}';\nexport const a = b;\n`,
      [to]: 'export const b = 1;\n',
    });
    expect(violationsOf(result)).toEqual(expected.map((rule) => ({ rule, from, to })));
  });

  it('reports a two-file cycle as no-circular, naming both of its files', async () => {
    const service = 'src/schema/item/item.service.ts';
    const loaders = 'src/schema/item/item.loaders.ts';
    const result = await cruiseFixture({
      [service]: "import { loaders } from './item.loaders.js';\nexport const service = () => loaders;\n",
      [loaders]: "import { service } from './item.service.js';\nexport const loaders = () => service;\n",
    });
    // A cycle is reported once, from whichever of its files the cruise reaches first.
    const [violation, ...others] = result.summary.violations;
    expect(others).toEqual([]);
    expect(violation?.rule.name).toBe('no-circular');
    expect([violation?.from, violation?.to].sort()).toEqual([loaders, service]);
    expect(violation?.cycle?.map((step) => step.name).sort()).toEqual([loaders, service]);
  });

  it.each([
    { library: 'fastify', source: "import type { FastifyRequest } from 'fastify';\nexport type Request = FastifyRequest;\n" },
    { library: 'type-graphql', source: "import { Field } from 'type-graphql';\nexport const field = Field;\n" },
  ])('reports a service that imports $library as no-transport-below-resolvers', async ({ library, source }) => {
    const result = await cruiseFixture({ 'src/schema/item/item.service.ts': source });
    expect(violationsOf(result)).toEqual([
      { rule: 'no-transport-below-resolvers', from: 'src/schema/item/item.service.ts', to: `node_modules/${library}/index.js` },
    ]);
  });

  it('reports nothing for a tree whose imports all point down', async () => {
    const result = await cruiseFixture({
      'src/main.ts': "import { start } from './server/http.js';\nstart();\n",
      'src/server/http.ts':
        "import type { FastifyInstance } from 'fastify';\nimport { ItemResolver } from '../schema/item/item.resolver.js';\n" +
        'export type Server = FastifyInstance;\nexport const start = () => new ItemResolver();\n',
      'src/schema/item/item.resolver.ts':
        "import { Resolver } from 'type-graphql';\nimport { ItemService } from './item.service.js';\n" +
        'export class ItemResolver {\n  readonly decorator = Resolver;\n  readonly service = new ItemService();\n}\n',
      'src/schema/item/item.service.ts':
        "import { ItemRepo } from './item.repo.js';\nexport class ItemService {\n  readonly repo = new ItemRepo();\n}\n",
      'src/schema/item/item.repo.ts': "import { db } from '../../db/client.js';\nexport class ItemRepo {\n  readonly db = db;\n}\n",
      'src/db/client.ts': "import { config } from '../config.js';\nexport const db = { url: config.url };\n",
      'src/config.ts': "export const config = { url: 'postgres://' };\n",
    });
    expect(violationsOf(result)).toEqual([]);
    expect(result.summary.totalCruised).toBeGreaterThanOrEqual(7);
  });

  it('finds no violation in the real src/', async () => {
    const result = await cruiseTree(repoRoot, path.join(repoRoot, 'tsconfig.json'));
    expect(result.summary.totalCruised).toBeGreaterThan(0);
    expect(violationsOf(result)).toEqual([]);
  });
});
