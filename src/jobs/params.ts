/** Reading a job's JSON parameters with user errors that name the field (e.g. ["input", "params", "to"]). */
import type { UserErrors } from '../schema/shared/user-error.js';

export type Params = Record<string, unknown>;

/** The parameters as an object; anything else (or an unknown key) is a user error. */
export function paramsObject(value: unknown, errors: UserErrors, path: string[], known: readonly string[]): Params {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.add(path, 'Parameters must be a JSON object');
    return {};
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) errors.add([...path, key], `Unknown parameter "${key.slice(0, 50)}"`);
  }
  return value as Params;
}

export function text(
  params: Params,
  key: string,
  errors: UserErrors,
  path: string[],
  options: { label: string; min: number; max: number; required: boolean },
): string | null {
  const value = params[key];
  if (value === undefined || value === null) {
    if (options.required) errors.add([...path, key], `${options.label} is required`);
    return null;
  }
  if (typeof value !== 'string') {
    errors.add([...path, key], `${options.label} must be a string`);
    return null;
  }
  const trimmed = value.trim();
  const length = [...trimmed].length;
  if (length < options.min) {
    errors.add(
      [...path, key],
      options.min === 1 ? `${options.label} must not be empty` : `${options.label} must be at least ${options.min} characters`,
    );
  } else if (length > options.max) {
    errors.add([...path, key], `${options.label} must be at most ${options.max} characters`);
  }
  return trimmed;
}

export function num(params: Params, key: string, errors: UserErrors, path: string[], label: string, min: number): number | null {
  const value = params[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.add([...path, key], `${label} must be a number`);
    return null;
  }
  if (value < min) errors.add([...path, key], `${label} must be at least ${min}`);
  return value;
}

export function bool(params: Params, key: string, errors: UserErrors, path: string[], label: string): boolean | null {
  const value = params[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'boolean') {
    errors.add([...path, key], `${label} must be true or false`);
    return null;
  }
  return value;
}

/** A list of strings (a single string counts as a list of one), at most `max`. */
export function stringList(params: Params, key: string, errors: UserErrors, path: string[], label: string, max: number): string[] | null {
  const value = params[key];
  if (value === undefined || value === null) return null;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string')) {
    errors.add([...path, key], `${label} must be a string or a list of strings`);
    return null;
  }
  if (list.length > max) errors.add([...path, key], `${label} must have at most ${max} entries`);
  return list as string[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar date `YYYY-MM-DD`, returned as midnight UTC. */
export function date(params: Params, key: string, errors: UserErrors, path: string[], label: string): Date | null {
  const value = params[key];
  if (value === undefined || value === null) {
    errors.add([...path, key], `${label} is required`);
    return null;
  }
  const parsed = typeof value === 'string' && DATE.test(value) ? new Date(`${value}T00:00:00.000Z`) : null;
  if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    errors.add([...path, key], `${label} must be a date like 2026-01-31`);
    return null;
  }
  return parsed;
}
