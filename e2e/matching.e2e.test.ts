/**
 * Issue 5, cases 4, 6 and 7: which mappings an event reaches, and which workloads
 * each mapping may touch. The chart's operator runs cluster-wide (no watchNamespaces),
 * the setting in which a mapping's reach matters most.
 */
import type { Secret } from './support/aws';
import {
  endScenario,
  expectUntouched,
  partialArn,
  rand,
  snapshot,
  startScenario,
  value,
  waitForEventLog,
  waitForNewPods,
  waitLastRotation,
  waitMappingSynced,
  waitQueueEmpty,
  type Scenario,
  type Snapshot,
} from './support/scenario';

jest.setTimeout(300_000);

let s: Scenario;
let nsA: string;
let nsB: string;

beforeAll(async () => {
  s = await startScenario({ prefix: 'matching', namespaces: ['match-a', 'match-b'] });
  [nsA, nsB] = s.namespaces;
});

afterAll(async () => {
  await endScenario(s);
});

async function deployment(ns: string, name: string, labels: Record<string, string>): Promise<void> {
  await s.ctx.kube.createWorkload('Deployment', ns, name, labels);
}

/** New pods for every snapshot, one more generation each; returns the new snapshots. */
async function expectAllRolled(before: Snapshot[]): Promise<Snapshot[]> {
  const after: Snapshot[] = [];
  for (const b of before) {
    await waitForNewPods(s.ctx, b);
    after.push(await snapshot(s.ctx, b.kind, b.namespace, b.name));
  }
  expect(after.map((a) => `${a.namespace}/${a.name} gen ${a.generation}`)).toEqual(before.map((b) => `${b.namespace}/${b.name} gen ${b.generation + 1}`));
  return after;
}

describe('secret identity', () => {
  test('mappings by name, partial ARN and full ARN all match events that carry the secret as full ARN, name or partial ARN', async () => {
    const secret = await s.ctx.aws.createSecret(`match-forms-${rand()}`, value());
    const forms: Record<string, string> = { name: secret.name, partial: partialArn(secret), full: secret.arn };
    for (const [form, id] of Object.entries(forms)) {
      await deployment(nsA, `forms-${form}`, { forms: form });
      await s.ctx.kube.createMapping(nsA, `by-${form}`, { secretId: id, selector: { matchLabels: { forms: form } } });
    }
    let before = [];
    for (const form of Object.keys(forms)) before.push(await snapshot(s.ctx, 'Deployment', nsA, `forms-${form}`));
    for (const form of Object.keys(forms)) await waitMappingSynced(s.ctx, nsA, `by-${form}`, secret.version);

    const send: [string, (v: Secret) => Promise<string>][] = [
      ['native event (full ARN in resources)', (v) => s.ctx.aws.sendLabelUpdated(v)],
      ['CloudTrail PutSecretValue by name', (v) => s.ctx.aws.sendApiCall('PutSecretValue', { secretId: secret.name, clientRequestToken: v.version }, null)],
      ['CloudTrail PutSecretValue by partial ARN', (v) => s.ctx.aws.sendApiCall('PutSecretValue', { secretId: partialArn(secret), clientRequestToken: v.version }, null)],
    ];
    for (const [, sendEvent] of send) {
      const rotated = await s.ctx.aws.putSecretValue(secret, value());
      await sendEvent(rotated);
      before = await expectAllRolled(before);
      for (const form of Object.keys(forms)) {
        const status = (await waitLastRotation(s.ctx, nsA, `by-${form}`, rotated.version)).status!;
        expect(status.lastRotation!.workloads).toEqual([{ kind: 'Deployment', name: `forms-${form}`, result: 'Restarted' }]);
      }
      await waitQueueEmpty(s.ctx);
    }
  });

  test('a mapping for secret "app" (by name or partial ARN) does not match events of secret "app-prod"', async () => {
    const base = `app${rand()}`;
    const app = await s.ctx.aws.createSecret(base, value());
    const prod = await s.ctx.aws.createSecret(`${base}-prod`, value());
    await deployment(nsA, 'app-by-name', { prefixcase: 'name' });
    await deployment(nsA, 'app-by-partial', { prefixcase: 'partial' });
    await s.ctx.kube.createMapping(nsA, 'app-by-name', { secretId: app.name, selector: { matchLabels: { prefixcase: 'name' } } });
    await s.ctx.kube.createMapping(nsA, 'app-by-partial', { secretId: partialArn(app), selector: { matchLabels: { prefixcase: 'partial' } } });
    const before = [await snapshot(s.ctx, 'Deployment', nsA, 'app-by-name'), await snapshot(s.ctx, 'Deployment', nsA, 'app-by-partial')];
    await waitMappingSynced(s.ctx, nsA, 'app-by-name', app.version);
    await waitMappingSynced(s.ctx, nsA, 'app-by-partial', app.version);

    const rotated = await s.ctx.aws.putSecretValue(prod, value());
    const eventIds = [
      await s.ctx.aws.sendLabelUpdated(rotated),
      await s.ctx.aws.sendApiCall('PutSecretValue', { secretId: prod.name, clientRequestToken: rotated.version }, null),
      await s.ctx.aws.sendApiCall('PutSecretValue', { secretId: partialArn(prod), clientRequestToken: rotated.version }, null),
    ];
    for (const id of eventIds) await waitForEventLog(s.op, id, 'no mapping names this secret; acknowledged');
    await waitQueueEmpty(s.ctx);
    for (const b of before) await expectUntouched(s.ctx, b);
    expect((await s.ctx.kube.mapping(nsA, 'app-by-name')).status?.lastRotation).toBeUndefined();
    expect((await s.ctx.kube.mapping(nsA, 'app-by-partial')).status?.lastRotation).toBeUndefined();
  });
});

describe('tenancy', () => {
  test("a mapping in namespace A whose selector also matches workloads in namespace B restarts only A's", async () => {
    const secret = await s.ctx.aws.createSecret(`match-tenancy-${rand()}`, value());
    const labels = { team: `shared-${rand()}` };
    await deployment(nsA, 'tenant-web', labels);
    await deployment(nsB, 'tenant-web', labels);
    await s.ctx.kube.createMapping(nsA, 'tenant', { secretId: secret.name, selector: { matchLabels: labels } });
    const a = await snapshot(s.ctx, 'Deployment', nsA, 'tenant-web');
    const b = await snapshot(s.ctx, 'Deployment', nsB, 'tenant-web');
    const synced = await waitMappingSynced(s.ctx, nsA, 'tenant', secret.version);
    expect(synced.status!.matchedWorkloads).toBe(1);

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    await s.ctx.aws.sendLabelUpdated(rotated);

    await waitForNewPods(s.ctx, a);
    const status = (await waitLastRotation(s.ctx, nsA, 'tenant', rotated.version)).status!;
    expect(status.lastRotation!.workloads).toEqual([{ kind: 'Deployment', name: 'tenant-web', result: 'Restarted' }]);
    await waitQueueEmpty(s.ctx);
    await expectUntouched(s.ctx, b);
    expect(await s.ctx.kube.replicaSetCount(nsB, 'tenant-web')).toBe(1);
  });
});

describe('several mappings for one secret', () => {
  test('one event rolls the workloads of every mapping of the secret (in two namespaces), and a workload two mappings select rolls once', async () => {
    const secret = await s.ctx.aws.createSecret(`match-many-${rand()}`, value());
    const tier = { tier: `web-${rand()}` };
    const stack = { stack: `shop-${rand()}` };
    await deployment(nsA, 'only-tier', tier);
    await deployment(nsA, 'only-stack', stack);
    await deployment(nsA, 'both', { ...tier, ...stack });
    await deployment(nsB, 'other-ns', tier);
    await s.ctx.kube.createMapping(nsA, 'by-tier', { secretId: secret.name, selector: { matchLabels: tier } });
    await s.ctx.kube.createMapping(nsA, 'by-stack', { secretId: secret.arn, selector: { matchLabels: stack } });
    await s.ctx.kube.createMapping(nsB, 'by-tier', { secretId: partialArn(secret), selector: { matchLabels: tier } });
    const before = [
      await snapshot(s.ctx, 'Deployment', nsA, 'only-tier'),
      await snapshot(s.ctx, 'Deployment', nsA, 'only-stack'),
      await snapshot(s.ctx, 'Deployment', nsA, 'both'),
      await snapshot(s.ctx, 'Deployment', nsB, 'other-ns'),
    ];
    for (const [ns, name] of [[nsA, 'by-tier'], [nsA, 'by-stack'], [nsB, 'by-tier']]) await waitMappingSynced(s.ctx, ns, name, secret.version);

    const rotated = await s.ctx.aws.putSecretValue(secret, value());
    await s.ctx.aws.sendLabelUpdated(rotated);

    await expectAllRolled(before);
    const records = {
      [`${nsA}/by-tier`]: (await waitLastRotation(s.ctx, nsA, 'by-tier', rotated.version)).status!.lastRotation!.workloads.map((w) => w.name).sort(),
      [`${nsA}/by-stack`]: (await waitLastRotation(s.ctx, nsA, 'by-stack', rotated.version)).status!.lastRotation!.workloads.map((w) => w.name).sort(),
      [`${nsB}/by-tier`]: (await waitLastRotation(s.ctx, nsB, 'by-tier', rotated.version)).status!.lastRotation!.workloads.map((w) => w.name).sort(),
    };
    expect(records).toEqual({ [`${nsA}/by-tier`]: ['both', 'only-tier'], [`${nsA}/by-stack`]: ['both', 'only-stack'], [`${nsB}/by-tier`]: ['other-ns'] });
    await waitQueueEmpty(s.ctx);
    // Rolled once: one template change (one generation, one new ReplicaSet), after the message is gone.
    expect((await s.ctx.kube.readWorkload('Deployment', nsA, 'both')).metadata!.generation).toBe(before[2].generation + 1);
    expect(await s.ctx.kube.replicaSetCount(nsA, 'both')).toBe(2);
    for (const [ns, name] of [[nsA, 'by-tier'], [nsA, 'by-stack'], [nsB, 'by-tier']]) {
      expect((await s.ctx.kube.eventsFor(ns, name)).map((e) => e.reason)).toContain('Rotated');
    }
  });
});
