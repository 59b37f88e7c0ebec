import fs from 'node:fs';
import { load } from 'js-yaml';
import { CRD_FILE, withTimeZones } from '../../../../scripts/crd-time-zones';
import { supportedTimeZones } from '../../../src/rollout/timeZones';

const crd = fs.readFileSync(CRD_FILE, 'utf8');

/** The list of the CEL rule on spec.rollout.windows[].timeZone, as the API server reads it. */
function crdZones(text: string): string[] {
  const doc = load(text) as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
  const tz = (doc.spec.versions[0].schema.openAPIV3Schema as any).properties.spec.properties.rollout.properties.windows.items.properties.timeZone;
  const rule: string = tz['x-kubernetes-validations'][0].rule;
  return [...rule.matchAll(/'([^']*)'/g)].map((m) => m[1]);
}

describe("the CRD's time zones", () => {
  it('are exactly the zones the operator can evaluate (run `npx tsx scripts/crd-time-zones.ts` after a Node upgrade)', () => {
    expect(crdZones(crd)).toEqual([...supportedTimeZones()]);
  });

  it('include UTC and the zones people name most, and no abbreviation', () => {
    expect(supportedTimeZones()).toEqual(expect.arrayContaining(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo']));
    expect(supportedTimeZones()).not.toContain('CEST');
  });

  it('the generator rewrites only the list, so running it twice changes nothing', () => {
    expect(withTimeZones(crd, supportedTimeZones())).toBe(crd);
    expect(crdZones(withTimeZones(crd, ['UTC', 'Europe/Berlin']))).toEqual(['UTC', 'Europe/Berlin']);
  });
});
