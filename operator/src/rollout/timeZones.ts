/**
 * The time zones a restart window may name: the IANA zones this Node knows (the
 * operator's own runtime evaluates the windows, so its list is the one that counts) plus
 * `UTC`, which Intl accepts but does not list. The CRD carries the same list in a CEL
 * rule (scripts/crd-time-zones.ts writes it; a unit test keeps the two in sync), so an
 * unknown zone is refused by the API server, not found by the operator later.
 */
export function supportedTimeZones(): readonly string[] {
  return ['UTC', ...Intl.supportedValuesOf('timeZone')];
}
