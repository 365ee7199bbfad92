import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/db/timestamps.js';
import { prng } from '../security/fuzz-generator.js';

const pad = (value: number, width = 2) => String(value).padStart(width, '0');
const sameDate = (text: string) => {
  const ours = parseTimestamptz(text).getTime();
  const drizzles = new Date(text).getTime();
  return Number.isNaN(ours) ? Number.isNaN(drizzles) : ours === drizzles;
};

describe('timestamptz text to Date', () => {
  it('gives the Date `new Date(text)` gives for what PostgreSQL writes, fractions and offsets included', () => {
    // Seeded, so a failure names the same text on every run.
    const { chance, int: pick } = prng(19);
    const texts: string[] = [];
    for (let index = 0; index < 20_000; index++) {
      const fraction = chance(0.3) ? '' : `.${pad(pick(1_000_000), 6).slice(0, 1 + pick(6))}`;
      const offset = chance(0.5)
        ? '+00'
        : `${chance(0.5) ? '+' : '-'}${pad(pick(15))}${chance(0.5) ? '' : `:${pad([0, 15, 30, 45][pick(4)]!)}`}`;
      const date = `${pad(1000 + pick(9000), 4)}-${pad(1 + pick(12))}-${pad(1 + pick(31))}`;
      texts.push(`${date} ${pad(pick(24))}:${pad(pick(60))}:${pad(pick(60))}${fraction}${offset}`);
    }
    expect(texts.filter((text) => !sameDate(text))).toEqual([]);
  });

  it('leaves every other form to the general parser, with its result', () => {
    const texts = [
      '2026-12-03 15:20:01.123+00',
      '2026-12-03 15:20:01.123999+00',
      '2026-02-31 00:00:00+00',
      '0050-01-01 00:00:00+00',
      '0999-12-31 23:59:59.999+00',
      '2026-12-03 15:20:01.12+05:30:15',
      '2026-12-03 15:20:01.123+00 BC',
      '12026-12-03 15:20:01+00',
      '2026-12-03T15:20:01.123+00',
      '2026-12-03 15:20:01.+00',
      '2026-12-03 15:20:01.123Z',
      '2026-12-03 15:20:01',
      'infinity',
      '-infinity',
      '',
    ];
    expect(texts.filter((text) => !sameDate(text))).toEqual([]);
    expect(parseTimestamptz('2026-12-03 15:20:01.5-08:30').toISOString()).toBe('2026-12-03T23:50:01.500Z');
  });
});
