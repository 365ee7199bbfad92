/**
 * `timestamp with time zone` values as PostgreSQL writes them in its ISO output (DateStyle ISO, the default on both
 * drivers): `2026-12-03 15:20:01.123+00`, the fraction optional, the offset `±HH` with optional `:MM`. Drizzle turns
 * each one into a Date with `new Date(text)`, which goes through V8's general date parser; on a page of comments that
 * was the largest part of the time spent decoding rows. This reads the common form digit by digit, and hands
 * everything else (years before 1000, BC, `infinity`, offsets with seconds, any other DateStyle) to `new Date(text)`,
 * so the result is always the Date Drizzle would have made.
 */

const ZERO = 48;

/** The decimal value of `length` digits of `text` from `start`, or -1 when one of them is not a digit. */
function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let index = start; index < start + length; index++) {
    const digit = text.charCodeAt(index) - ZERO;
    // Written so that NaN (past the end of the text) is not a digit either.
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** `new Date(text)` for a timestamptz's text, without the general parser for the form PostgreSQL writes. */
export function parseTimestamptz(text: string): Date {
  return new Date(timestamptzMs(text) ?? Date.parse(text));
}

function timestamptzMs(text: string): number | null {
  const length = text.length;
  // YYYY-MM-DD HH:MM:SS, then at least a sign and two digits of offset.
  if (length < 22 || text[4] !== '-' || text[7] !== '-' || text[10] !== ' ' || text[13] !== ':' || text[16] !== ':') return null;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  // V8's parser reads years 0–99 as 1900–1999: such a text is left to it, as is any date before 1000.
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return null;
  if (second < 0 || second > 59) return null;
  let index = 19;
  // The fraction: milliseconds are its first three digits; V8's parser drops the rest, as Date keeps milliseconds.
  let ms = 0;
  if (text[index] === '.') {
    index++;
    let count = 0;
    for (; index < length; index++) {
      const digit = text.charCodeAt(index) - ZERO;
      if (digit < 0 || digit > 9) break;
      if (count < 3) ms = ms * 10 + digit;
      count++;
    }
    if (count === 0) return null;
    for (; count < 3; count++) ms *= 10;
  }
  const sign = text[index] === '+' ? 1 : text[index] === '-' ? -1 : 0;
  if (sign === 0) return null;
  const offsetHours = digits(text, index + 1, 2);
  index += 3;
  let offsetMinutes = 0;
  if (index < length) {
    if (text[index] !== ':' || index + 3 !== length) return null;
    offsetMinutes = digits(text, index + 1, 2);
    index += 3;
  }
  if (index !== length || offsetHours < 0 || offsetHours > 15 || offsetMinutes < 0 || offsetMinutes > 59) return null;
  const seconds = ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - sign * (offsetHours * 60 + offsetMinutes)) * 60 + second;
  return seconds * 1_000 + ms;
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`): what Date.UTC
 * computes, at a fraction of its cost: plain arithmetic, where Date.UTC is a call into the runtime.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
