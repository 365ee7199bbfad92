/** Field rules shared by several domains. */
import type { UserErrors } from './user-error.js';

/** An input class implements InputOf<Type> so its fields stay in step with the object type's. */
export type InputOf<T> = { [K in keyof T]?: T[K] | null };

export const MAX_TAGS = 10;

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
