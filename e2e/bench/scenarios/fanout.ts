/** B: one secret, many Deployments. */
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../../../operator/src/config';
import { rand, value } from '../../support/scenario';
import { waitFor } from '../../support/wait';
import { BenchOperator, M, VersionWatch, forEachSaying, say, sendBatch, waitDeploymentsSettled, waitSynced, type Bench } from '../harness';
import { changed, deployment, inScope, mapping, seconds } from './fixtures';
import type { ScenarioResult, Sizes } from './result';

export async function fanout(b: Bench, z: Sizes): Promise<ScenarioResult> {
  const total = z.fanoutNamespaces * z.fanoutPerNamespace;
  const label = `fan-${rand(4)}`;
  return inScope(b, { id: 'b', namespaces: z.fanoutNamespaces }, async ({ s, queue, namespaces: nss, t0 }) => {
    const secret = await b.ctx.aws.createSecret(`bench/fanout-${rand(6)}`);
    const work = nss.flatMap((ns) => Array.from({ length: z.fanoutPerNamespace }, (_, i) => ({ ns, name: `w${i}` })));
    await forEachSaying('Deployments', work, 10, (w) => deployment(b, w.ns, w.name, { app: label }));
    await forEachSaying('mappings', nss, 10, (ns) => mapping(b, ns, 'fanout', secret.name, { app: label }));
    s.operator = s.own(await BenchOperator.start(b, 'b-fanout', queue.url, { env: z.operatorEnv }));
    await s.operator.waitLeading();
    await waitSynced(b, nss, nss.length);
    await waitDeploymentsSettled(b, `app=${label}`, total);
    s.watch = s.own(await VersionWatch.start(b, '/apis/apps/v1/deployments', `app=${label}`));
    const v = await b.ctx.aws.putSecretValue(secret, value());
    const deleted = await s.operator.metric(`${M}messages_deleted_total`);
    const t1 = performance.now();
    say(`B: one change → ${total} Deployments`);
    s.operator.kube.reset();
    const cpuBefore = s.operator.figures().cpuSeconds;
    const sent = performance.now();
    await sendBatch(b, queue.url, [changed(b, v)]);
    const allSeen = await s.watch.until(`${total} Deployments at ${v.version}`, () => {
      const times = work.map((w) => s.watch!.when(`${w.ns}/${w.name}`, v.version));
      return times.every((x) => x !== undefined) ? Math.max(...(times as number[])) : undefined;
    }, 120_000);
    await waitFor('message deleted', async () => (await s.operator!.metric(`${M}messages_deleted_total`)) > deleted || undefined, { timeoutMs: 60_000, intervalMs: 20 });
    const t2 = performance.now();
    const cpu = s.operator.figures().cpuSeconds - cpuBefore;
    const k = s.operator.kube.snapshot();
    const patches = k.byKind['PATCH deployments'] ?? 0;
    const limit = DEFAULTS.MAX_CONCURRENT_API_REQUESTS;
    return {
      id: 'B',
      title: `Fan-out: one secret → ${total} Deployments in ${z.fanoutNamespaces} namespaces`,
      setupSeconds: seconds(t0, t1),
      measuredSeconds: seconds(t1, t2),
      figures: [
        { key: 'allPatchedSeconds', label: `time until all ${total} are patched`, value: seconds(sent, allSeen), unit: 's', target: { op: '<=', value: 10 } },
        { key: 'handledSeconds', label: 'time until the message is deleted (status and Events written)', value: seconds(sent, t2), unit: 's' },
        { key: 'apiRequests', label: 'API requests made (watches and Lease renewals included)', value: k.total, unit: 'requests' },
        { key: 'patches', label: '  of which Deployment patches', value: patches, unit: 'requests' },
        { key: 'peakInFlight', label: `peak concurrent requests (limit ${limit}, Lease renewals excluded)`, value: k.peakInFlightWithoutLeases, unit: 'requests', target: { op: '<=', value: limit } },
        { key: 'peakInFlightAll', label: 'peak concurrent requests, Lease renewals included', value: k.peakInFlight, unit: 'requests' },
        { key: 'connections', label: 'new connections to the API server (each a TLS handshake)', value: k.connections, unit: 'connections', target: { op: '<=', value: 10 } },
        { key: 'cpuSeconds', label: 'operator CPU time, send → message deleted', value: cpu, unit: 's' },
      ],
      notes: [`requests by kind: ${JSON.stringify(k.byKind)}`],
    };
  });
}
