/**
 * Scenario R3: a standard queue as AWS runs it. The realism proxy hands the operator
 * half the messages twice, holds half back for up to 4 s (so a newer version's event
 * can come before an older one's), shuffles every answer, and fails 30% of the DeleteMessageBatch
 * calls with a 500 (the message then comes back after its visibility timeout), and answers
 * DescribeSecret as the secret was 0.5–1.5 s earlier (AWS: briefly stale after a write). Four
 * secrets each rotate twice in quick succession. Every workload must end on its secret's
 * newest version, with at most one restart per version and none for a version older than
 * one it already ran; the queues end empty.
 */
import { SECRET_VERSIONS_ANNOTATION } from '../../operator/src/workloads/workload';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';

const S = 'R3 duplicated, late and reordered deliveries, failed deletes';
const SECRETS = 4;
const WORKLOADS = 8;
jest.setTimeout(300_000);

const f = FaultFile.forThisFile(S, undefined, {
  realism: {
    sqsDelivery: { duplicate: 0.5, late: 0.5, maxDelayMs: 4_000, reorder: true },
    serverErrors: { probability: 0.3, operations: ['AmazonSQS.DeleteMessageBatch'] },
    // The operator settles each change with DescribeSecret, which AWS may answer stale just after a write.
    describeStale: { minMs: 500, maxMs: 1_500 },
  },
});

test('every message twice, late or out of order, some deletes failing: each workload ends on the newest version, no version rolled twice or after a newer one', async () => {
  const realism = f.realism!;
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('stdq');
  const r = await f.install('stdq', f.realismValues());
  const { secrets, names, mappings } = await f.groups(ledger, ns, 'stdq', SECRETS, WORKLOADS);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, mappings);

  // Two versions of each secret, each with its event, one right after the other.
  const versions = new Map<string, string[]>();
  for (const s of secrets) {
    const v2 = await f.rotate(s);
    const v3 = await f.rotate(v2);
    versions.set(s.arn, [s.version, v2.version, v3.version]);
    ledger.sent(2);
  }
  progress(S, `${SECRETS} secrets rotated twice; ${2 * SECRETS} events sent`);

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    // One or two restarts per workload (the two versions may be coalesced); duplicates add none.
    restartsExpected: names.length,
    restartsAtMost: 2 * names.length,
    // A workload that ran a version must never be rolled to an older one after it.
    afterSettled: async () => {
      const rss = (await f.ctx.kube.apps.listNamespacedReplicaSet(ns)).body.items;
      const out: string[] = [];
      for (const [i, s] of secrets.entries()) {
        const order = versions.get(s.arn)!;
        for (const n of names.filter((_, j) => j % SECRETS === i)) {
          const history = rss
            .filter((x) => x.metadata?.labels?.['workload-name'] === n)
            .sort((a, b) => Number(a.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0) - Number(b.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0))
            .map((x) => order.findIndex((v) => (x.spec?.template?.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION] ?? '').includes(v)));
          if (history.some((v, k) => k > 0 && v < history[k - 1])) out.push(`${ns}/${n}: rolled back to an older version (revisions by version index ${history.join(' → ')})`);
        }
      }
      return out;
    },
    notes: () => `${realism.counts.staleDescribed.length} stale DescribeSecret answers, ${realism.counts.duplicated.length} duplicated, ${realism.counts.late.length} late, ${realism.counts.reordered} reordered answers, ${realism.counts.serverErrors.length} failed deletes (seed ${realism.seed})`,
  });
  const inPlay = realism.counts.duplicated.length > 0 && realism.counts.late.length > 0 && realism.counts.reordered > 0;
  expect(inPlay ? result.problems : ['the proxy did not duplicate, hold back and reorder: the fault was not in play', ...result.problems]).toEqual([]);
});
