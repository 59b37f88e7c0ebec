import fs from 'node:fs';
import { load } from 'js-yaml';
import { CRD_FILE, evaluable, tzdataNames, withTimeZones } from '../../../../scripts/crd-time-zones';
import { supportedTimeZones } from '../../../src/rollout/timeZones';
import { compileWindow } from '../../../src/rollout/windows';

const crd = fs.readFileSync(CRD_FILE, 'utf8');

/** The list of the CEL rule on spec.rollout.windows[].timeZone, as the API server reads it. */
function crdZones(text: string): string[] {
  const doc = load(text) as { spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } };
  const tz = (doc.spec.versions[0].schema.openAPIV3Schema as any).properties.spec.properties.rollout.properties.windows.items.properties.timeZone;
  const rule: string = tz['x-kubernetes-validations'][0].rule;
  return [...rule.matchAll(/'([^']*)'/g)].map((m) => m[1]);
}

describe("the CRD's time zones (run `npx tsx scripts/crd-time-zones.ts` when these fail after an upgrade)", () => {
  it('are exactly the zones the operator accepts', () => {
    expect(crdZones(crd)).toEqual([...supportedTimeZones()]);
  });

  it("include every zone this Node lists, and each listed zone works in this Node's Intl and in a window", () => {
    const listed = new Set(supportedTimeZones());
    expect(Intl.supportedValuesOf('timeZone').filter((z) => !listed.has(z))).toEqual([]);
    expect(supportedTimeZones().filter((z) => !evaluable(z))).toEqual([]);
    const broken = supportedTimeZones().filter((z) => 'problem' in compileWindow({ kind: 'allow', schedule: '0 22 * * *', duration: '1h', timeZone: z }));
    expect(broken).toEqual([]);
  });

  it("include UTC, today's IANA names beside ICU's older ones, and no abbreviation", () => {
    expect(supportedTimeZones()).toEqual(expect.arrayContaining(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Calcutta', 'Europe/Kyiv', 'America/Argentina/Buenos_Aires']));
    expect(supportedTimeZones()).not.toContain('CEST');
  });

  it('the generator rewrites only the list, so running it twice changes nothing', () => {
    expect(withTimeZones(crd, supportedTimeZones())).toBe(crd);
    expect(crdZones(withTimeZones(crd, ['UTC', 'Europe/Berlin']))).toEqual(['UTC', 'Europe/Berlin']);
    expect(tzdataNames('# comment\nZ Asia/Kolkata 5:53:28 - LMT 1854 Jun 28\nL Asia/Kolkata Asia/Calcutta\nR x 1 2')).toEqual(['Asia/Kolkata', 'Asia/Calcutta']);
  });
});
