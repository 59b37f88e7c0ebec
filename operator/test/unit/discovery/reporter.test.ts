import { DiscoveryReporter } from '../../../src/discovery/reporter';
import { readExternalSecret, type DiscoveredSource } from '../../../src/discovery/model';
import type { DiscoveredSources } from '../../../src/discovery/sources';
import { createLogger } from '../../../src/core/log';
import { createMetrics } from '../../../src/core/metrics';

const source = (name: string): DiscoveredSource =>
  readExternalSecret(
    { metadata: { name, namespace: 'team', uid: `uid-${name}`, generation: 1 }, spec: { secretStoreRef: { name: 'aws' }, target: { name: `${name}-env` }, data: [{ remoteRef: { key: 'db/pass' } }] } },
    'external-secrets.io/v1',
    () => ({ awsSecretsManager: true, region: 'eu-west-1' }),
  );

describe('DiscoveryReporter', () => {
  it('runs one pass at a time: a pass asked for while one is under way joins it, so no Discovered Event is recorded twice', async () => {
    const found = Array.from({ length: 20 }, (_, i) => source(`es-${i}`));
    let snapshots = 0;
    const sources = { snapshot: async () => (snapshots++, found) } as unknown as DiscoveredSources;
    const recorded: string[] = [];
    // The API server is slow: every Event write waits until the test lets them through.
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const reporter = new DiscoveryReporter({
      sources,
      events: { record: async (t, _type, reason) => (await slow, void recorded.push(`${reason} ${t.name}`)) },
      metrics: createMetrics(false),
      log: createLogger('silent'),
      kinds: ['externalsecret'],
    });
    const first = reporter.pass();
    // The interval's next tick, while the first pass still waits on its Events.
    await new Promise((r) => setImmediate(r));
    const second = reporter.pass();
    release();
    await Promise.all([first, second]);
    expect(snapshots).toBe(1);
    expect(recorded).toHaveLength(20);
    expect(new Set(recorded).size).toBe(20);
  });
});
