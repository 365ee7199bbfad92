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

/**
 * A finite number in `[min, max]`. Bounds are required: a handler turns the value into SQL parameters of a fixed
 * type (a 32-bit integer column), so an unbounded one (1e300) would fail when the job runs instead of when it starts.
 */
export function num(
  params: Params,
  key: string,
  errors: UserErrors,
  path: string[],
  options: { label: string; min: number; max: number },
): number | null {
  const value = params[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.add([...path, key], `${options.label} must be a number`);
    return null;
  }
  if (value < options.min || value > options.max) {
    errors.add([...path, key], `${options.label} must be at ${value < options.min ? `least ${options.min}` : `most ${options.max}`}`);
    return null;
  }
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

/** A list of strings (a single string counts as a list of one), at most `max`, each at most `entryMax` characters. */
export function stringList(
  params: Params,
  key: string,
  errors: UserErrors,
  path: string[],
  options: { label: string; max: number; entryMax: number },
): string[] | null {
  const value = params[key];
  if (value === undefined || value === null) return null;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string')) {
    errors.add([...path, key], `${options.label} must be a string or a list of strings`);
    return null;
  }
  if (list.length > options.max) errors.add([...path, key], `${options.label} must have at most ${options.max} entries`);
  // An entry longer than any valid one is refused before the handler's own checks read it.
  if ((list as string[]).some((entry) => entry.length > options.entryMax)) {
    errors.add([...path, key], `${options.label} must each be at most ${options.entryMax} characters`);
    return null;
  }
  return list as string[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** The longest address SMTP carries (RFC 5321 path limit), as the outbox's `recipient` column. */
export const EMAIL_MAX = 254;

export function isEmail(value: string): boolean {
  return value.length <= EMAIL_MAX && EMAIL.test(value);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Dates a job may name: the range a report's SQL bounds (a day past the end included) always hold. */
export const DATE_MIN = '1970-01-01';
export const DATE_MAX = '2999-12-31';

/** A calendar date `YYYY-MM-DD` from DATE_MIN to DATE_MAX, returned as midnight UTC. */
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
  // ISO dates of one length compare as strings.
  if (value < DATE_MIN || value > DATE_MAX) {
    errors.add([...path, key], `${label} must be between ${DATE_MIN} and ${DATE_MAX}`);
    return null;
  }
  return parsed;
}
