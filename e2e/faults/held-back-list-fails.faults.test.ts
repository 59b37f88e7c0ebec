/**
 * Scenario R5: a held-back consumer while one workload kind's list fails. A Deployment
 * takes an ExternalSecret's target Secret as its environment, and a mapping of the same
 * secret selects it too. ESO reaches Secrets Manager through the realism proxy, 8 s per
 * fetch; the operator waits 5 s for a sync. The chart's ClusterRole loses `list` on
 * DaemonSets, so the operator cannot tell all of the ExternalSecret's consumers. The
 * secret changes (event): ESO does not sync in time, so its consumers must be held back,
 * the Deployment included, although the mapping selects it and the failing list is of
 * another kind. Then the list works again and ESO is fast: the Deployment must roll
 * once, after ESO wrote the new value (its pods read it), and nothing be dead-lettered.
 */
import * as k8s from '@kubernetes/client-node';
import { FaultFile } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';
import { discoveryValues, externalSecretConsumers, SecretContentWatch, startFaultEso } from './support/discovered';
import type { Eso } from '../support/eso';
import { waitFor } from '../support/wait';

const S = 'R5 held-back consumer while a DaemonSet list fails';
const SYNC_TIMEOUT_S = 5;
jest.setTimeout(300_000);

let eso: Eso | undefined;
let watch: SecretContentWatch | undefined;
const f = FaultFile.forThisFile(
  S,
  async () => {
    watch?.stop();
    await eso?.stop();
  },
  { realism: { latency: { operations: ['secretsmanager.GetSecretValue'], ms: 8_000 } } },
);

/** The release's ClusterRole rules as installed, and a way to put them back. */
async function withoutDaemonSetList(rbac: k8s.RbacAuthorizationV1Api, release: string): Promise<() => Promise<void>> {
  const roles = (await rbac.listClusterRole(undefined, undefined, undefined, undefined, `app.kubernetes.io/instance=${release}`)).body.items;
  const role = roles.find((r) => r.rules?.some((x) => x.resources?.includes('daemonsets')));
  if (!role) throw new Error(`no ClusterRole of release ${release} grants daemonsets`);
  const rules = role.rules!;
  const cut = rules.flatMap((x) =>
    x.resources?.includes('daemonsets') ? [{ ...x, resources: x.resources.filter((n) => n !== 'daemonsets') }, { ...x, resources: ['daemonsets'], verbs: x.verbs.filter((v) => v !== 'list') }] : [x],
  );
  await rbac.replaceClusterRole(role.metadata!.name!, { ...role, rules: cut });
  return async () => {
    const now = (await rbac.readClusterRole(role.metadata!.name!)).body;
    await rbac.replaceClusterRole(role.metadata!.name!, { ...now, rules });
  };
}

test('consumers that cannot all be listed are held back until ESO synced: the mapped consumer rolls once, on the new value', async () => {
  const realism = f.realism!;
  eso = await startFaultEso(f, realism.url);
  const rbac = f.ctx.kube.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('heldlist');
  const r = await f.install('heldlist', [...discoveryValues(SYNC_TIMEOUT_S), ...f.realismValues()]);
  const s = await f.createSecret('heldlist');
  const { names, target } = await externalSecretConsumers(f, ledger, ns, 'es', s, 1);
  await f.mapping(ns, 'm', s, { consumer: 'es' });
  const restore = await withoutDaemonSetList(rbac, r.name);
  progress(S, 'the ClusterRole no longer lets the operator list DaemonSets');
  watch = new SecretContentWatch(f.ctx, ns, target);
  const op = await f.start(r);
  rss.track(op);
  await f.waitMappingsReady(ns, ['m']);
  await waitFor('the ExternalSecret discovered', async () => (await f.ctx.kube.eventsOn(ns, 'ExternalSecret', 'es')).some((e) => e.reason === 'Discovered'), { timeoutMs: 60_000 });

  await f.rotate(s);
  ledger.sent();
  const problems: string[] = [];
  await waitFor('the operator to give up waiting for ESO (ExternalSecretNotSynced)', async () => (await f.ctx.kube.eventsOn(ns, 'ExternalSecret', 'es')).some((e) => e.reason === 'ExternalSecretNotSynced'), { timeoutMs: 60_000 }).catch((err: Error) => problems.push(err.message));
  await restore();
  realism.setLatency(0);
  progress(S, 'the DaemonSet list works again and ESO is fast');

  const result = await ledger.check({
    alive: [op],
    rss,
    secretValues: f.secretValues,
    timeoutMs: 90_000,
    problems,
    afterSettled: () => watch!.rolledBeforeLastChange(names),
  });
  expect(result.problems).toEqual([]);
});
