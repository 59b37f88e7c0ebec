/** What Secrets Manager's ListSecrets accepts (API reference): listing.ts plans within these, describer.ts asks for full pages. */

/** A Filter holds at most 10 Values. */
export const NAME_FILTER_VALUES_MAX = 10;
/** A page holds at most 100 secrets. */
export const PAGE_SIZE_MAX = 100;
