/**
 * Input bounds: rules on the values an operation carries, stated once here (or once per field with `@Bounded`) and
 * checked by the operation core on every transport before anything executes. Each refusal is a BAD_USER_INPUT error;
 * a value that is refused never reaches a resolver, a service or SQL.
 *
 * Threat model. Document limits (limits.ts) bound the text of an operation, not the values it carries:
 *  - Variables are JSON of any depth. graphql-js coerces them recursively, and the cost check serialises them, so a
 *    few thousand levels of nesting overflowed the stack (HTTP 500, graphql-ws closed the socket with 4500). Their
 *    depth is measured here first, iteratively, so the check itself cannot overflow.
 *  - PostgreSQL refuses the NUL character in `text` (and `jsonb`), so a NUL in any argument failed its statement as an
 *    internal error. Other C0 control characters are refused with it: no field of this API means them, and they
 *    hide text from logs and terminals. Tab, LF and CR are text and stay allowed.
 *  - A list argument of tens of thousands of values became one bound parameter each in an `IN (…)`.
 *  - Per-field bounds (`@Bounded`): a search string is an ILIKE scan whose cost grows with its length, and a price
 *    filter beyond the 32-bit `price_cents` column made PostgreSQL fail the query.
 *
 * Wire: `extensions = { code: "BAD_USER_INPUT", field, limit, value, maximum }` (`minimum` for a number below its
 * range). `field` is the path of the value: the root field's response name (its alias, if any), the names of any
 * nested fields down to the one that takes the argument, the argument, then input fields and list indexes, e.g.
 * `["createPost", "input", "title"]`. The README's "Operation limits" lists the rules.
 */
import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  GraphQLError,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { ErrorCode } from '../schema/shared/errors.js';
import { INPUT_BOUNDS_EXTENSION, type InputBounds } from '../schema/shared/validation.js';

/** Levels of objects and arrays one variable's value may nest; no input of this API needs more than a few. */
export const MAX_VARIABLE_DEPTH = 32;
/** Elements any one list argument or input list may have, unless its field declares fewer with `@Bounded`. */
export const MAX_LIST_ITEMS = 1_000;
/** Elements all the lists of one operation's arguments may have together. */
export const MAX_TOTAL_LIST_ITEMS = 10_000;

/** C0 control characters other than tab (U+0009), LF (U+000A) and CR (U+000D); NUL first among them. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

export type FieldPath = Array<string | number>;

function boundsError(message: string, field: FieldPath, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field, ...extensions } });
}

/**
 * Refuses a variable whose value nests objects and arrays deeper than `maxDepth` levels (a scalar is level 0, an object
 * or array one level more than its deepest member), or holds an array longer than any input list may be. Iterative,
 * and run on the raw JSON before graphql-js coerces it: coercing 70,000 enum values alone took ~50 ms.
 */
export function checkVariableDepth(rawVariables: Record<string, unknown>, maxDepth: number = MAX_VARIABLE_DEPTH): GraphQLError | null {
  for (const [name, root] of Object.entries(rawVariables)) {
    // Paths are the variable's own (`["$filter", "categories"]`): one variable may feed several arguments.
    const stack: Array<{ value: unknown; path: FieldPath }> = [{ value: root, path: [`$${name}`] }];
    while (stack.length > 0) {
      const { value, path } = stack.pop()!;
      if (typeof value !== 'object' || value === null) continue;
      if (path.length > maxDepth) {
        return new GraphQLError(`Variable "$${name}" is nested deeper than ${maxDepth} levels.`, {
          extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'variableDepth', maximum: maxDepth },
        });
      }
      if (Array.isArray(value)) {
        if (value.length > MAX_LIST_ITEMS) {
          return boundsError(`"${path.join('.')}" must list at most ${MAX_LIST_ITEMS} values, got ${value.length}.`, path, {
            limit: 'listItems',
            value: value.length,
            maximum: MAX_LIST_ITEMS,
          });
        }
        value.forEach((member, index) => {
          if (typeof member === 'object' && member !== null) stack.push({ value: member, path: [...path, index] });
        });
      } else {
        for (const [key, member] of Object.entries(value)) {
          if (typeof member === 'object' && member !== null) stack.push({ value: member, path: [...path, key] });
        }
      }
    }
  }
  return null;
}

/** A field's definition on its parent type, the introspection root fields included (`__type(name:)` takes a String). */
function fieldDefinition(schema: GraphQLSchema, parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  if (parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

const boundsOf = (extensions: Readonly<Record<string, unknown>> | null | undefined): InputBounds =>
  (extensions?.[INPUT_BOUNDS_EXTENSION] as InputBounds | undefined) ?? {};

/** A field's path without the root field's name, as messages name it: `filter.search`, `input.tags.3`. */
const argumentPath = (path: FieldPath) => `"${path.slice(1).join('.')}"`;

/** Code points in `text`, counted only as far as needed to know whether it exceeds `maximum`. */
function exceedsLength(text: string, maximum: number): number | null {
  if (text.length <= maximum) return null;
  const length = [...text].length;
  return length > maximum ? length : null;
}

interface PendingValue {
  value: unknown;
  type: GraphQLInputType;
  path: FieldPath;
  bounds: InputBounds;
}

/** Checks one argument's coerced value against the text, list and per-field rules; `listItems` is the operation's running total. */
function checkValue(root: PendingValue, listItems: { total: number }): GraphQLError | null {
  const stack: PendingValue[] = [root];
  while (stack.length > 0) {
    const { value, type: wrapped, path, bounds } = stack.pop()!;
    if (value === null || value === undefined) continue;
    const type = getNullableType(wrapped);
    if (isListType(type)) {
      if (!Array.isArray(value)) continue;
      const maximum = Math.min(bounds.maxItems ?? MAX_LIST_ITEMS, MAX_LIST_ITEMS);
      if (value.length > maximum) {
        return boundsError(`${argumentPath(path)} must list at most ${maximum} values, got ${value.length}.`, path, {
          limit: 'listItems',
          value: value.length,
          maximum,
        });
      }
      listItems.total += value.length;
      if (listItems.total > MAX_TOTAL_LIST_ITEMS) {
        return boundsError(`The arguments of an operation may list at most ${MAX_TOTAL_LIST_ITEMS} values in all.`, path, {
          limit: 'totalListItems',
          value: listItems.total,
          maximum: MAX_TOTAL_LIST_ITEMS,
        });
      }
      // Elements keep the field's bounds (a tag's length); reversed so they are checked in order.
      const elementBounds = { ...bounds, maxItems: undefined };
      for (let index = value.length - 1; index >= 0; index--) {
        stack.push({ value: value[index], type: type.ofType, path: [...path, index], bounds: elementBounds });
      }
    } else if (isInputObjectType(type)) {
      if (typeof value !== 'object') continue;
      const fields = Object.values(type.getFields()).reverse();
      for (const field of fields) {
        const member = (value as Record<string, unknown>)[field.name];
        if (member !== undefined)
          stack.push({ value: member, type: field.type, path: [...path, field.name], bounds: boundsOf(field.extensions) });
      }
    } else if (typeof value === 'string' && isLeafType(type) && !isEnumType(type)) {
      // String, ID and any custom scalar whose value is text.
      if (CONTROL_CHARACTERS.test(value)) return boundsError('Text must not contain control characters.', path);
      const length = bounds.maxLength !== undefined ? exceedsLength(value, bounds.maxLength) : null;
      if (length !== null) {
        return boundsError(`${argumentPath(path)} must be at most ${bounds.maxLength} characters, got ${length}.`, path, {
          limit: 'textLength',
          value: length,
          maximum: bounds.maxLength,
        });
      }
    } else if (typeof value === 'object' && isLeafType(type)) {
      // A JSON scalar (a job's parameters): its keys and strings are text too, and PostgreSQL's jsonb refuses NUL.
      if (Array.isArray(value)) {
        for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], type, path: [...path, index], bounds: {} });
      } else {
        for (const [key, member] of Object.entries(value as Record<string, unknown>).reverse()) {
          if (CONTROL_CHARACTERS.test(key)) return boundsError('Text must not contain control characters.', [...path, key]);
          stack.push({ value: member, type, path: [...path, key], bounds: {} });
        }
      }
    } else if (typeof value === 'number') {
      if (bounds.min !== undefined && !(value >= bounds.min)) {
        return boundsError(`${argumentPath(path)} must be at least ${bounds.min}, got ${value}.`, path, {
          limit: 'range',
          value,
          minimum: bounds.min,
        });
      }
      if (bounds.max !== undefined && !(value <= bounds.max)) {
        return boundsError(`${argumentPath(path)} must be at most ${bounds.max}, got ${value}.`, path, {
          limit: 'range',
          value,
          maximum: bounds.max,
        });
      }
    }
  }
  return null;
}

/**
 * Walks the arguments of every field the operation selects (through its fragments, each once) with their values as
 * execution will see them — inline literals and variables, coerced — typed by the schema's arguments and input fields,
 * and returns the first value that breaks a rule: a control character in text, a list over its cap or the operation's
 * total, or a field's `@Bounded` length or range.
 */
export function checkInputText(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  coercedVariables: Record<string, unknown>,
): GraphQLError | null {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const root = schema.getRootType(operation.operation);
  if (!root) return null;
  const visited = new Set<string>();
  const listItems = { total: 0 };
  const selections: Array<{ selectionSet: SelectionSetNode; parent: GraphQLCompositeType; path: FieldPath }> = [
    { selectionSet: operation.selectionSet, parent: root, path: [] },
  ];
  while (selections.length > 0) {
    const { selectionSet, parent, path } = selections.pop()!;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        // A fragment is checked once, at the first place it is spread: its values are the same everywhere.
        if (!fragment || visited.has(fragment.name.value)) continue;
        visited.add(fragment.name.value);
        const condition = schema.getType(fragment.typeCondition.name.value);
        if (isCompositeType(condition)) selections.push({ selectionSet: fragment.selectionSet, parent: condition, path });
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (isCompositeType(condition)) selections.push({ selectionSet: selection.selectionSet, parent: condition, path });
        continue;
      }
      const definition = fieldDefinition(schema, parent, selection.name.value);
      if (!definition) continue;
      const fieldPath = [...path, selection.alias?.value ?? selection.name.value];
      if (selection.arguments?.length) {
        let values: Record<string, unknown>;
        try {
          values = getArgumentValues(definition, selection, coercedVariables);
        } catch (error) {
          // A null variable given to a non-null argument: execution reports it on this field, as it always has.
          if (error instanceof GraphQLError) continue;
          throw error;
        }
        for (const argument of definition.args) {
          if (values[argument.name] === undefined) continue;
          const refused = checkValue(
            { value: values[argument.name], type: argument.type, path: [...fieldPath, argument.name], bounds: boundsOf(argument.extensions) },
            listItems,
          );
          if (refused) return refused;
        }
      }
      const child = getNamedType(definition.type);
      if (selection.selectionSet && isCompositeType(child)) {
        selections.push({ selectionSet: selection.selectionSet, parent: child, path: fieldPath });
      }
    }
  }
  return null;
}
