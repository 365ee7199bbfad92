/**
 * Discount codes (seed 001 §24). The seed's format `^[A-Z]{4}\d{2}$` rejects its own OFFER30, so the format allows four
 * or five letters: every listed code is then valid. The list itself is configuration (DISCOUNT_CODES).
 */
export const DISCOUNT_CODE_PATTERN = /^[A-Z]{4,5}\d{2}$/;

/** Code → percent off. */
export type DiscountCodes = ReadonlyMap<string, number>;

export const DEFAULT_DISCOUNT_CODES = 'SAVE10:10,DISC20:20,OFFER30:30';

/** Parses `CODE:percent,CODE:percent`; returns the problem as a message, or the map. */
export function parseDiscountCodes(raw: string): DiscountCodes | string {
  const codes = new Map<string, number>();
  for (const entry of raw.split(',')) {
    const match = /^\s*([^:\s]+)\s*:\s*(\d{1,3})\s*$/.exec(entry);
    if (!match) return `must be a comma-separated list of CODE:percent, got "${entry.trim()}"`;
    const [, code, percentText] = match as unknown as [string, string, string];
    const percent = Number(percentText);
    if (!DISCOUNT_CODE_PATTERN.test(code)) return `has a code that does not match ${DISCOUNT_CODE_PATTERN.source}: "${code}"`;
    if (percent < 1 || percent > 100) return `has a percent outside 1..100 for ${code}`;
    codes.set(code, percent);
  }
  return codes;
}
