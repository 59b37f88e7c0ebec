/**
 * Writes the time zones the operator knows (operator/src/rollout/timeZones.ts) into the
 * CRD's CEL rule for spec.rollout.windows[].timeZone, so the API server refuses a zone
 * the operator could not evaluate. Run after a Node upgrade changes the zone list:
 *   npx tsx scripts/crd-time-zones.ts
 * A unit test (operator/test/unit/rollout/timeZones.test.ts) fails while the two differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { supportedTimeZones } from '../operator/src/rollout/timeZones';

export const CRD_FILE = path.join(__dirname, '..', 'charts', 'secrets-rotation-operator', 'files', 'crds', 'secretsrotationmappings.yaml');

/** The one `rule: self in [...]` of the CRD, with its list replaced by `zones`. */
export function withTimeZones(crd: string, zones: readonly string[]): string {
  const rule = /^(\s+- rule: self in )\[[^\]\n]*\]$/m;
  if (!rule.test(crd)) throw new Error('the CRD has no `- rule: self in [...]` line for timeZone');
  return crd.replace(rule, `$1[${zones.map((z) => `'${z}'`).join(', ')}]`);
}

if (require.main === module) {
  fs.writeFileSync(CRD_FILE, withTimeZones(fs.readFileSync(CRD_FILE, 'utf8'), supportedTimeZones()));
}
