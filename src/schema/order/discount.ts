/**
 * Discount codes. The list is configuration (DISCOUNT_CODES, checked by src/config.ts against the same pattern that
 * `placeOrder` applies to a requested code), so the rule and the map's type live there.
 */
export { DISCOUNT_CODE_PATTERN, type DiscountCodes } from '../../config.js';
