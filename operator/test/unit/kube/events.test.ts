import fc from 'fast-check';
import type * as k8s from '@kubernetes/client-node';
import { EventRecorder } from '../../../src/kube/events';
import type { EventTarget } from '../../../src/rotation/ports';

/** What the API server accepts as an Event's name: a DNS subdomain (RFC 1123) of at most 253 characters. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function recorder(at = new Date('2026-12-07T10:00:00Z')) {
  const names: string[] = [];
  const core = { createNamespacedEvent: async (_ns: string, body: k8s.CoreV1Event) => void names.push(body.metadata.name!) } as unknown as k8s.CoreV1Api;
  return { events: new EventRecorder(core, 'replica-0', () => at), names };
}

const target = (name: string): EventTarget => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name });

/** A name the API server accepts for a workload or an ExternalSecret: a DNS subdomain of 1 to 253 characters, long ones often. */
const alnum = fc.constantFrom(...'abcxyz0189');
const label = fc
  .tuple(alnum, fc.string({ unit: fc.constantFrom(...'abz09-'), maxLength: 61, size: 'max' }), alnum)
  .map(([a, middle, b]) => (middle.length === 0 ? a : `${a}${middle}${b}`));
const objectName = fc
  .array(label, { minLength: 1, maxLength: 8, size: 'max' })
  .map((labels) => labels.join('.').slice(0, 253).replace(/[-.]+$/, ''));

describe('EventRecorder: Event names', () => {
  afterEach(() => jest.restoreAllMocks());

  it('names the Event after its object, so `kubectl get events` reads well', async () => {
    const r = recorder();
    await r.events.record(target('web'), 'Normal', 'Rotated', 'm');
    expect(r.names[0]).toMatch(/^web\.[0-9a-f]+$/);
  });

  it('keeps the name of an Event on an object with a 253-character name within 253 characters, and valid', async () => {
    const r = recorder();
    await r.events.record(target(`${'a'.repeat(200)}.${'b'.repeat(52)}`), 'Normal', 'Rotated', 'm');
    expect(r.names[0].length).toBeLessThanOrEqual(253);
    expect(r.names[0]).toMatch(DNS_SUBDOMAIN);
  });

  it('gives any valid object name an Event name the API server accepts', async () => {
    await fc.assert(
      fc.asyncProperty(objectName, async (name) => {
        const r = recorder();
        await r.events.record(target(name), 'Normal', 'Rotated', 'm');
        expect(r.names[0].length).toBeLessThanOrEqual(253);
        expect(r.names[0]).toMatch(DNS_SUBDOMAIN);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the Events of two long names that share their beginning apart, even at one instant', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const r = recorder();
    const common = 'x'.repeat(250);
    await r.events.record(target(`${common}-a`), 'Normal', 'Rotated', 'm');
    await r.events.record(target(`${common}-b`), 'Normal', 'Rotated', 'm');
    expect(new Set(r.names).size).toBe(2);
  });
});
