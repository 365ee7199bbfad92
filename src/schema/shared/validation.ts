/** Field rules shared by several domains. */
import { Extensions } from 'type-graphql';
import type { UserErrors } from './user-error.js';

/** An input class implements InputOf<Type> so its fields stay in step with the object type's. */
export type InputOf<T> = { [K in keyof T]?: T[K] | null };

export const MAX_TAGS = 10;

/** Characters any free-text filter argument (a search) may carry: enough for a name, too few for a costly scan. */
export const FILTER_TEXT_MAX = 100;
/** Values a list filter (categories, statuses, tags) may name. */
export const FILTER_LIST_MAX = 50;

/**
 * Bounds of one input field, declared next to it with `@Bounded` and enforced by the operation core before anything
 * executes (src/server/input-bounds.ts): a value outside them is a top-level BAD_USER_INPUT error naming the field, so
 * a query argument never reaches SQL it would break (a 32-bit column, a costly ILIKE). Lists without `maxItems`
 * take the core's default cap; bounds on a list field apply to each of its elements as well.
 */
export interface InputBounds {
  /** Characters (code points) a text value may have. */
  maxLength?: number;
  /** Elements a list may have. */
  maxItems?: number;
  /** Smallest number allowed, inclusive. */
  min?: number;
  /** Largest number allowed, inclusive. */
  max?: number;
}

/** Where an input field's bounds live in its GraphQL `extensions`. */
export const INPUT_BOUNDS_EXTENSION = 'inputBounds';

/** Declares an input field's bounds (state the same constants in its description). */
export const Bounded = (bounds: InputBounds) => Extensions({ [INPUT_BOUNDS_EXTENSION]: bounds });

/** Trimmed, lower-cased, de-duplicated tags with empties dropped; more than MAX_TAGS is a user error. */
export function normalizeTags(tags: readonly string[], errors: UserErrors, field: string[]): string[] {
  const normalized = [...new Set(tags.map((tag) => tag.trim().toLowerCase()).filter((tag) => tag.length > 0))];
  if (normalized.length > MAX_TAGS) errors.add(field, `Maximum ${MAX_TAGS} tags allowed`);
  for (const tag of normalized) {
    if (tag.length > 50) {
      errors.add(field, 'A tag must be at most 50 characters');
      break;
    }
  }
  return normalized;
}

/** Checks a string's length in characters (code points); returns the trimmed value. */
export function checkLength(value: string, errors: UserErrors, field: string[], label: string, min: number, max: number): string {
  const trimmed = value.trim();
  const length = [...trimmed].length;
  if (length < min) errors.add(field, min === 1 ? `${label} must not be empty` : `${label} must be at least ${min} characters`);
  else if (length > max) errors.add(field, `${label} must be at most ${max} characters`);
  return trimmed;
}

/** Escapes LIKE wildcards so a search string matches literally. */
export function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
