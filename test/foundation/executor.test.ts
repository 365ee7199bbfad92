/**
 * The executor (src/server/executor.ts) runs a document on graphql-js first and on graphql-jit's compiled form from
 * its second run. Both must give the client the same answer: the same data, and after masking the same errors —
 * messages, paths, locations and codes — for resolver errors meant for the client, unexpected ones, null where the
 * schema forbids it, values a leaf type cannot serialize, abstract types and variables.
 */
import { describe, expect, it } from 'vitest';
import {
  GraphQLEnumType,
  GraphQLError,
  GraphQLID,
  GraphQLInt,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  type DocumentNode,
  type ExecutionResult,
} from 'graphql';
import { createExecutor, COMPILE_AFTER_RUNS, MAX_COMPILED_SOURCE } from '../../src/server/executor.js';
import { formatError } from '../../src/server/errors.js';
import { DomainError, ErrorCode } from '../../src/schema/shared/errors.js';

const Node = new GraphQLInterfaceType({
  name: 'Node',
  fields: { id: { type: new GraphQLNonNull(GraphQLID) } },
  resolveType: (value: { __typename: string }) => value.__typename,
});
const Color = new GraphQLEnumType({ name: 'Color', values: { RED: { value: 'red' }, BLUE: { value: 'blue' } } });
const Thing = new GraphQLObjectType({
  name: 'Thing',
  interfaces: [Node],
  fields: {
    id: { type: new GraphQLNonNull(GraphQLID) },
    name: { type: GraphQLString },
    color: { type: Color },
    count: { type: GraphQLInt },
    required: { type: new GraphQLNonNull(GraphQLString) },
    domain: {
      type: GraphQLString,
      resolve: () => Promise.reject(new DomainError(ErrorCode.FORBIDDEN, 'Not yours', { missingScopes: ['x'] })),
    },
    graphql: {
      type: GraphQLString,
      resolve: () => {
        throw new GraphQLError('Bad cursor', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
      },
    },
    unexpected: {
      type: GraphQLString,
      resolve: () => {
        throw new Error('connection reset at 10.0.0.7');
      },
    },
    paint: { type: Color, args: { color: { type: new GraphQLNonNull(Color) } }, resolve: (_root, args: { color: string }) => args.color },
    greeting: {
      type: GraphQLString,
      args: { name: { type: new GraphQLNonNull(GraphQLString) }, times: { type: GraphQLInt, defaultValue: 2 } },
      resolve: (_root, args: { name: string; times: number }, context: { prefix: string }) =>
        `${context.prefix}${args.name.repeat(args.times)}`,
    },
  },
});
const things = [
  { __typename: 'Thing', id: '1', name: 'one', color: 'red', count: 1, required: 'r' },
  { __typename: 'Thing', id: '2', name: 'two', color: 'green', count: 2.5, required: null },
  { __typename: 'Thing', id: '3', name: 'three', color: 'blue', count: 3, required: 'r' },
];
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      node: {
        type: Node,
        args: { id: { type: new GraphQLNonNull(GraphQLID) } },
        resolve: (_root, { id }: { id: string }) => things.find((thing) => thing.id === id) ?? null,
      },
      things: { type: new GraphQLList(Thing), resolve: async () => things },
      strictThings: { type: new GraphQLList(new GraphQLNonNull(Thing)), resolve: () => things },
    },
  }),
  types: [Thing],
});

/**
 * What a client receives of a result, as the operation core formats it (errors masked, nothing logged), its errors
 * in the order of their paths: the order of errors from resolvers that settle at different times is not the
 * executor's to keep.
 */
const asClient = (result: ExecutionResult) => ({
  ...(result.errors
    ? {
        errors: result.errors
          .map((error) => formatError(error, { requestId: 'r', defaultCode: ErrorCode.BAD_USER_INPUT }))
          .sort((a, b) => JSON.stringify(a.path).localeCompare(JSON.stringify(b.path))),
      }
    : {}),
  data: result.data,
});

async function runs(document: DocumentNode, variableValues: Record<string, unknown> = {}, times = 3) {
  const compiled: DocumentNode[] = [];
  const execute = createExecutor({ onCompile: (args) => void compiled.push(args.document) });
  const answers = [];
  for (let run = 0; run < times; run += 1) {
    answers.push(asClient(await execute({ schema, document, variableValues, contextValue: { prefix: '>' } })));
  }
  return { answers, compiled };
}

describe('the executor', () => {
  it(`compiles a document on its run after ${COMPILE_AFTER_RUNS}, once, and answers as graphql-js did`, async () => {
    const document = parse('{ node(id: "1") { __typename id ... on Thing { name color count } } }');
    const { answers, compiled } = await runs(document);
    expect(compiled).toEqual([document]);
    expect(answers[0]).toEqual({ data: { node: { __typename: 'Thing', id: '1', name: 'one', color: 'RED', count: 1 } } });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('does not compile a document that runs once', async () => {
    const { compiled } = await runs(parse('{ things { id } }'), {}, 1);
    expect(compiled).toEqual([]);
  });

  it.each([
    ['errors meant for the client, and unexpected ones masked', '{ things { id domain graphql unexpected } }', {}],
    ['null in a non-null field, in a list of nullable items', '{ things { id required } }', {}],
    ['null in a non-null list item, which nulls the list', '{ strictThings { id required } }', {}],
    ['values an enum or Int cannot serialize', '{ things { color count } }', {}],
    [
      'arguments from variables, with defaults, and the context',
      'query($who: String!, $n: Int) { a: things { greeting(name: $who) } b: node(id: "3") { ... on Thing { greeting(name: $who, times: $n) } } }',
      { who: 'x', n: 3 },
    ],
    [
      'an explicit null for a variable with a default',
      'query($n: Int = 5) { node(id: "1") { ... on Thing { greeting(name: "y", times: $n) } } }',
      { n: null },
    ],
    [
      'required variables with defaults, given and left out',
      'query($a: String! = "a", $b: Int! = 4, $c: Color! = BLUE) { node(id: "1") { ... on Thing { x: greeting(name: $a, times: $b) y: greeting(name: "b") paint(color: $c) } } }',
      { b: 2 },
    ],
    ['a variable of the wrong type', 'query($n: Int) { node(id: "1") { ... on Thing { greeting(name: "y", times: $n) } } }', { n: 'three' }],
    ['@skip and @include', 'query($yes: Boolean!) { things { id name @include(if: $yes) count @skip(if: $yes) } }', { yes: true }],
    ['introspection beside data', '{ __typename node(id: "2") { __typename } __type(name: "Color") { enumValues { name } } }', {}],
  ])('answers as graphql-js with %s', async (_what, query, variables) => {
    const { answers, compiled } = await runs(parse(query), variables);
    expect(compiled).toHaveLength(1);
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('masks an unexpected error and keeps the message and extensions of one meant for the client', async () => {
    const { answers } = await runs(parse('{ node(id: "1") { ... on Thing { domain unexpected } } }'));
    for (const answer of answers.slice(1)) {
      expect(answer.errors).toEqual([
        {
          message: 'Not yours',
          locations: [{ line: 1, column: 34 }],
          path: ['node', 'domain'],
          extensions: { code: 'FORBIDDEN', missingScopes: ['x'], requestId: 'r' },
        },
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 41 }],
          path: ['node', 'unexpected'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'r' },
        },
      ]);
    }
  });

  it('keeps running on graphql-js a document graphql-jit cannot compile', async () => {
    // Two operations and none named: graphql-jit refuses to pick; graphql-js answers with its own error each time.
    const { answers, compiled } = await runs(parse('query A { things { id } } query B { things { name } }'));
    expect(compiled).toHaveLength(1);
    expect(answers[0]!.errors?.[0]?.message).toBe('Must provide operation name if query contains multiple operations.');
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it(`runs a document longer than ${MAX_COMPILED_SOURCE} characters on graphql-js every time`, async () => {
    // The source counts, comments included: what the server measures is the text it was sent.
    const long = parse(`{ things { id } }\n# ${'x'.repeat(MAX_COMPILED_SOURCE)}`);
    expect(long.loc!.end).toBeGreaterThan(MAX_COMPILED_SOURCE);
    const { answers, compiled } = await runs(long, {}, 4);
    expect(compiled).toEqual([]);
    expect(answers[3]).toEqual(answers[0]);
  });

  it('keeps a bounded number of compiled documents; one that left runs on graphql-js again before it is compiled again', async () => {
    const compiled: string[] = [];
    const execute = createExecutor({ onCompile: (args) => void compiled.push(String(args.document.loc?.source.body)), maxDocuments: 2 });
    const [a, b, c] = ['{ things { id } }', '{ things { name } }', '{ things { count } }'].map((text) => parse(text));
    const run = (document: DocumentNode) => execute({ schema, document, contextValue: { prefix: '' } });
    for (const document of [a, a, b, b, c, c]) await run(document!);
    expect(compiled).toEqual(['{ things { id } }', '{ things { name } }', '{ things { count } }']);
    // `a` left when `c` came in: its next run is on graphql-js, the one after compiles it again.
    await run(a!);
    expect(compiled).toHaveLength(3);
    expect(asClient(await run(a!))).toEqual({ data: { things: things.map(({ id }) => ({ id })) } });
    expect(compiled).toHaveLength(4);
  });
});
