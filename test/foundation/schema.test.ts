/** The committed schema.graphql is what the code builds, and every part of the schema is described. */
import { readFile } from 'node:fs/promises';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  isSpecifiedDirective,
  type GraphQLSchema,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSchema, printSchemaFile } from '../../src/schema/index.js';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await createSchema();
});

/** Every schema element without a description, as `Type`, `Type.field`, `Type.field(arg)` or `Enum.VALUE`. */
function undescribed(target: GraphQLSchema): string[] {
  const missing: string[] = [];
  const check = (name: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(name);
  };
  for (const type of Object.values(target.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    // The root types are named by the schema; their fields carry the descriptions.
    const isRoot = [target.getQueryType(), target.getMutationType(), target.getSubscriptionType()].includes(type as never);
    if (!isRoot) check(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        check(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name})`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) check(`${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
    }
  }
  for (const directive of target.getDirectives()) {
    if (isSpecifiedDirective(directive)) continue;
    check(`@${directive.name}`, directive.description);
    for (const arg of directive.args) check(`@${directive.name}(${arg.name})`, arg.description);
  }
  return missing;
}

describe('schema.graphql', () => {
  it('matches the schema built from the code (run `npm run schema:emit` after changing it)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(printSchemaFile(schema)).toBe(committed);
  });
});

describe('descriptions', () => {
  it('are present on every type, field, argument and enum value', () => {
    expect(undescribed(schema)).toEqual([]);
  });

  it('are looked for everywhere: an undescribed field, argument or enum value is reported', async () => {
    const { buildSchema } = await import('graphql');
    const sample = buildSchema(`
      "Root." type Query { "Described." a(x: Int): E  b: Int }
      "An enum." enum E { "One." ONE TWO }
      input In { "Described." c: Int d: Int }
      "Uses In." type Other { "Field." e(in: In): Int }
    `);
    expect(undescribed(sample).sort()).toEqual(['E.TWO', 'In', 'In.d', 'Other.e(in)', 'Query.a(x)', 'Query.b'].sort());
  });
});
