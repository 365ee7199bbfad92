/**
 * HTTP workloads. Each declares what it needs from the schema and the data set; a workload whose needs are not met
 * is reported as "not available yet" instead of a number.
 */
import type { GraphQLSchema } from 'graphql';
import { SEED_SKU_PREFIX } from './dataset.js';

export interface Fixtures {
  /** Global id of the item `node(id)` reads. */
  nodeId: string;
}

export interface GraphqlRequest {
  query: string;
  variables?: Record<string, unknown>;
}

export interface Workload {
  id: string;
  title: string;
  /** `Type.field` coordinates the schema must have. */
  fields: string[];
  /** Data-set parts that must have been seeded. */
  data: string[];
  /**
   * SQL statements one request may cost beyond what building the context costs (nested posts: 2, the
   * post page and the comment window, each with its authors joined in; a plain read or insert is one statement).
   */
  sqlBudget: number;
  /** True when every response is byte-identical (reads); false when each request differs (createItem). */
  deterministic: boolean;
  /** The request; called once per HTTP request for non-deterministic workloads. */
  request(fixtures: Fixtures): GraphqlRequest;
  /** Checks the `data` of a verification response; returns a reason when it is wrong. */
  check(data: Record<string, any>): string | null;
}

/** Distinct SKUs for createItem, across all candidates and rounds: two letters and four digits. */
export function skuSequence(): () => string {
  let n = 0;
  return () => {
    const letters = 1 + Math.floor(n / 10_000); // index 0 ("AA") is the seeded catalog
    if (letters >= 26 * 26) throw new Error('out of benchmark SKUs');
    const sku = String.fromCharCode(65 + Math.floor(letters / 26), 65 + (letters % 26)) + String(n % 10_000).padStart(4, '0');
    n += 1;
    return sku;
  };
}
if (SEED_SKU_PREFIX !== 'AA') throw new Error('skuSequence assumes the seeded catalog uses the AA prefix');

const nextSku = skuSequence();

export const NODE_QUERY = /* GraphQL */ `query Node($id: ID!) {
  node(id: $id) { id ... on Item { sku name description price category tags stock createdAt updatedAt } }
}`;

export const ITEMS_QUERY = /* GraphQL */ `query Items($filter: ItemFilter) {
  items(first: 20, filter: $filter) {
    edges { cursor node { id sku name price category tags stock } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const NESTED_QUERY = /* GraphQL */ `query Nested {
  posts(first: 20) { nodes { author { username } comments(first: 3) { nodes { author { username } } } } }
}`;

export const CREATE_ITEM = /* GraphQL */ `mutation CreateItem($input: CreateItemInput!) {
  createItem(input: $input) { item { id sku name price category stock } userErrors { field message code } }
}`;

/** Created items are HOME and out of stock, so they never enter the `items` workload's filter. */
export const ITEMS_FILTER = { categories: ['ELECTRONICS', 'BOOKS'], minPrice: 10, inStock: true };

export const workloads: Workload[] = [
  {
    id: 'node',
    title: 'node(id) of one item',
    fields: ['Query.node', 'Item.sku'],
    data: ['items'],
    sqlBudget: 1,
    deterministic: true,
    request: (fixtures) => ({ query: NODE_QUERY, variables: { id: fixtures.nodeId } }),
    check: (data) => (data.node?.sku ? null : 'node(id) returned no item'),
  },
  {
    id: 'items',
    title: 'items(first: 20, filter)',
    fields: ['Query.items', 'ItemFilter.categories'],
    data: ['items'],
    sqlBudget: 1,
    deterministic: true,
    request: () => ({ query: ITEMS_QUERY, variables: { filter: ITEMS_FILTER } }),
    check: (data) => (data.items?.edges?.length === 20 ? null : `items returned ${data.items?.edges?.length ?? 0} edges, not 20`),
  },
  {
    id: 'nested',
    title: 'posts(first: 20) → author → comments(first: 3) → author',
    fields: ['Query.posts', 'Post.author', 'Post.comments', 'Comment.author', 'User.username'],
    data: ['users', 'posts', 'comments'],
    sqlBudget: 2,
    deterministic: true,
    request: () => ({ query: NESTED_QUERY }),
    check: (data) => {
      const posts = data.posts?.nodes as Array<{ comments: { nodes: unknown[] } }> | undefined;
      if (posts?.length !== 20) return `posts returned ${posts?.length ?? 0} nodes, not 20`;
      return posts.every((post) => post.comments.nodes.length >= 2) ? null : 'a post came back without its comments';
    },
  },
  {
    id: 'createItem',
    title: 'createItem (unique SKU per request)',
    fields: ['Mutation.createItem'],
    data: ['items'],
    sqlBudget: 1,
    deterministic: false,
    request: () => ({
      query: CREATE_ITEM,
      variables: { input: { sku: nextSku(), name: 'Bench item', price: 12.5, category: 'HOME', stock: 0 } },
    }),
    check: (data) => {
      const payload = data.createItem;
      if (payload?.userErrors?.length) return `createItem user error: ${payload.userErrors[0].message}`;
      return payload?.item?.sku ? null : 'createItem returned no item';
    },
  },
];

/** The schema coordinates of `wanted` that `schema` lacks. */
export function missingFields(schema: GraphQLSchema, wanted: string[]): string[] {
  return wanted.filter((coordinate) => {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    if (!type || !('getFields' in type)) return true;
    return !(fieldName in type.getFields());
  });
}

/**
 * A candidate that serves its own schema (PostGraphile) answers a workload with its own query. It is outside the
 * byte-identical gate; instead `toOpsHub` maps its `data` to the shape of OpsHub's, and the mapped data must equal
 * OpsHub's verified data (same rows, same values). Its own responses must then be byte-identical run after run.
 */
export interface OwnQuery {
  request(fixtures: Fixtures): GraphqlRequest;
  toOpsHub(data: Record<string, any>): unknown;
}

const isoDate = (value: string) => new Date(value).toISOString();
const username = (user: { username: string } | null) => ({ username: user?.username });

/** PostGraphile 5 (Amber preset) on OpsHub's tables: primary-key lookup and the nested posts page. */
export const postgraphileQueries: Record<string, OwnQuery> = {
  node: {
    request: (fixtures) => ({
      query: /* GraphQL */ `query Node($rowId: UUID!) {
  itemByRowId(rowId: $rowId) { rowId sku name description priceCents category tags stock createdAt updatedAt }
}`,
      variables: { rowId: Buffer.from(fixtures.nodeId, 'base64url').toString('utf8').split(':')[1] },
    }),
    toOpsHub: ({ itemByRowId: item }) => ({
      node: item && {
        id: Buffer.from(`Item:${item.rowId}`).toString('base64url'),
        sku: item.sku,
        name: item.name,
        description: item.description,
        price: item.priceCents / 100,
        category: item.category,
        tags: item.tags,
        stock: item.stock,
        createdAt: isoDate(item.createdAt),
        updatedAt: isoDate(item.updatedAt),
      },
    }),
  },
  nested: {
    request: () => ({
      query: /* GraphQL */ `query Nested {
  allPosts(first: 20, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    nodes {
      userByAuthorId { username }
      commentsByPostId(first: 3, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { userByAuthorId { username } } }
    }
  }
}`,
    }),
    toOpsHub: ({ allPosts }) => ({
      posts: {
        nodes: (allPosts.nodes as any[]).map((post) => ({
          author: username(post.userByAuthorId),
          comments: { nodes: (post.commentsByPostId.nodes as any[]).map((comment) => ({ author: username(comment.userByAuthorId) })) },
        })),
      },
    }),
  },
};
