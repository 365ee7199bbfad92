import { Field, ID, InterfaceType } from 'type-graphql';

/** Every object type implementing Node carries its GraphQL type name, so `node(id)` can resolve the concrete type. */
export interface NodeSource {
  readonly __typename: string;
}

@InterfaceType('Node', {
  description: 'An object with a globally unique, opaque id that `node(id)` can fetch again.',
  resolveType: (value: NodeSource) => value.__typename,
})
export abstract class Node {
  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;
}
