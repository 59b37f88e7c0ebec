/** C: many mappings. */
import { performance } from 'node:perf_hooks';
import { promSample } from '../../support/operator';
import { rand } from '../../support/scenario';
import { waitFor } from '../../support/wait';
import { BenchOperator, M, forEachSaying, say, waitSynced, type Bench } from '../harness';
import { histogramQuantile } from '../stats';
import { inScope, mapping, seconds } from './fixtures';
import { latencyFigures, latencyTarget, measureLatency } from './latency';
import type { ScenarioResult, Sizes } from './result';

export async function scale(b: Bench, z: Sizes, opts: { cpuProf?: boolean } = {}): Promise<ScenarioResult> {
  const total = z.scaleNamespaces * z.scalePerNamespace;
  return inScope(b, { id: 'c', namespaces: z.scaleNamespaces }, async ({ s, queue, namespaces: nss, t0 }) => {
    const prefix = `bench/scale-${rand(4)}`;
    const secrets = Array.from({ length: z.scaleSecrets }, (_, i) => `${prefix}/s${i}`);
    await forEachSaying('secrets', secrets, 8, (name) => b.ctx.aws.createSecret(name));
    // One mapping of the first namespace is the latency probe (with the only Deployment).
    const probe = await latencyTarget(s, nss[0], 'probe');
    const mappings = nss.flatMap((ns, n) => Array.from({ length: n === 0 ? z.scalePerNamespace - 1 : z.scalePerNamespace }, (_, i) => ({ ns, name: `m${i}`, secret: secrets[(n * z.scalePerNamespace + i) % secrets.length] })));
    await forEachSaying('mappings', mappings, 16, (m) => mapping(b, m.ns, m.name, m.secret, { app: m.name }));
    const t1 = performance.now();

    say(`C: operator start with ${total} mappings`);
    s.operator = s.own(await BenchOperator.start(b, 'c-scale', queue.url, { env: z.operatorEnv, cpuProf: opts.cpuProf }));
    const ready = await s.operator.waitReady(300_000);
    const atReady = s.operator.figures();
    await s.operator.waitLeading();
    await waitFor(`status written for all ${total} mappings`, async () => {
      const text = await s.operator!.metrics();
      return (promSample(text, `${M}mappings`) === total && promSample(text, `${M}status_backlog`) === 0) || undefined;
    }, { timeoutMs: 1_800_000, intervalMs: 500 });
    const statusDone = performance.now();
    const afterStatus = s.operator.figures();
    const startupKube = s.operator.kube.snapshot();
    const startupAws = s.operator.aws.snapshot();
    await waitSynced(b, [probe.namespace], z.scalePerNamespace);

    say(`C: ${z.scaleLatencyChanges} changes at this scale`);
    const l = await measureLatency(s, probe, z.scaleLatencyChanges);
    const t2 = performance.now();
    const end = s.operator.figures();
    const matchMeanUs = (l.match.sum / l.match.count) * 1e6;
    return {
      id: 'C',
      title: `Scale: ${total} mappings over ${z.scaleNamespaces} namespaces (${z.scaleSecrets} secrets)`,
      setupSeconds: seconds(t0, t1),
      measuredSeconds: seconds(t1, t2),
      figures: [
        { key: 'readySeconds', label: 'start → /readyz ready (every mapping indexed)', value: seconds(s.operator.startedAt, ready), unit: 's', target: { op: '<=', value: 15 } },
        { key: 'statusSeconds', label: 'start → every mapping\'s status written (first start)', value: seconds(s.operator.startedAt, statusDone), unit: 's', target: { op: '<=', value: 120 } },
        { key: 'rssAtReadyMiB', label: 'RSS at ready', value: atReady.rssMiB, unit: 'MiB', target: { op: '<=', value: 120 } },
        { key: 'peakRssMiB', label: 'peak RSS (whole run)', value: end.peakRssMiB, unit: 'MiB', target: { op: '<=', value: 150 } },
        { key: 'cpuAtReadySeconds', label: 'CPU time to ready', value: atReady.cpuSeconds, unit: 's' },
        { key: 'cpuStatusSeconds', label: 'CPU time to all status written', value: afterStatus.cpuSeconds, unit: 's' },
        { key: 'matchMeanUs', label: 'per-event match time, mean (operator histogram)', value: matchMeanUs, unit: 'µs' },
        { key: 'matchP99Us', label: 'per-event match time, p99 (bucket estimate)', value: histogramQuantile(l.match, 0.99) * 1e6, unit: 'µs' },
        ...latencyFigures('latency.', l),
      ],
      notes: [
        'latency at scale is measured after the first-start status backlog has drained',
        `from start to every status written: ${startupKube.total} Kubernetes requests ${JSON.stringify(startupKube.byKind)}; AWS calls ${JSON.stringify(startupAws)}`,
      ],
    };
  });
}
