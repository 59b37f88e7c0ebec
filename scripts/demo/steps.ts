/** Steps 4–5 of the demo: the change (put-secret-value and the event), what the mapping recorded, the sample app on the real node. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { labelUpdatedEvent, putEventsEntry } from '../kit/aws';
import type { E2eContext } from '../kit/context';
import { podIsRunning } from '../kit/kube';
import { fingerprintAppManifest, fingerprintOf, servedByPods, ServiceClient, waitRolledOut } from '../kit/realnode';
import { GROUP, PLURAL, VERSION } from '../../operator/src/mappings/model';
import { REPO_ROOT } from '../stack';
import { AbortPoll } from '../kit/wait';
import { getTable, headerCells, rowCells, shownColumns, watchTable } from './kubeTable';
import { LogFollower, prettyLogLine, type LogLine } from './operatorLog';
import { bold, columns, command, dim, note, output, println, seconds } from './ui';
import { FINGERPRINT_EXAMPLE, saveState, type DemoState } from './state';
import { begin, until } from './interrupt';
import { resourceName, printTable, type Samples } from './samples';

// ------------------------------------------------------------------ 4. the change

interface Rotation {
  changedAt: number;
  restartedAt?: number;
  runningAt: number;
  oldGoneAt: number;
  newPod: string;
  oldPods: string[];
}

export async function rotateAndWatch(ctx: E2eContext, s: Samples, follower: LogFollower): Promise<Rotation> {
  begin('Change the secret and watch');
  note('As in two terminals, interleaved: [operator] is its log (kubectl logs -f; time, message and a few fields of each JSON line), [pods -w] is:');
  command(`kubectl get pods --selector ${s.selector} --watch`);
  const podsPath = `/api/v1/namespaces/${s.namespace}/pods`;
  const initial = await getTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: s.selector });
  const cols = shownColumns(initial);
  const header = headerCells(initial, cols);
  const rows = [header, ...(initial.rows ?? []).map((r) => rowCells(r, cols))];
  const { widths } = columns(rows);
  // Room for the longest status a rollout shows, so later rows stay aligned.
  const status = header.indexOf('STATUS');
  if (status >= 0) widths[status] = Math.max(widths[status], 'Terminating'.length);
  const tag = dim('[pods -w]');
  for (const line of columns(rows, widths).lines) println(`${tag}   ${line}`);

  const oldPods = (initial.rows ?? []).map((r) => r.object.metadata!.name!);
  const seen = new Map<string, { runningAt?: number; deletedAt?: number }>();
  let watchError: Error | undefined;
  const watch = await watchTable<k8s.V1Pod>(
    ctx.kube.kc,
    podsPath,
    { labelSelector: s.selector, resourceVersion: initial.metadata?.resourceVersion ?? '' },
    (type, row) => {
      println(`${tag}   ${columns([rowCells(row, cols)], widths).lines[0]}`);
      const name = row.object.metadata!.name!;
      const at = seen.get(name) ?? {};
      seen.set(name, at);
      if (type === 'DELETED') at.deletedAt ??= Date.now();
      else if (podIsRunning(row.object)) at.runningAt ??= Date.now();
    },
    (err) => (watchError = err),
  );

  try {
    const changedAt = Date.now();
    command(`aws secretsmanager put-secret-value --secret-id ${s.secretName} --secret-string '<new value>'`);
    const rotated = await ctx.aws.putSecretValue(s.secretName);
    output(JSON.stringify({ ARN: rotated.arn, Name: rotated.name, VersionId: rotated.version }, null, 4));
    note('AWS would now send EventBridge its native "Secret Label Updated" event (AWSCURRENT moved); the emulator sends none by itself, so the demo puts that event, through the same rule into the same queue:');
    const event = labelUpdatedEvent(rotated);
    const entry = JSON.stringify([putEventsEntry(event)], null, 2).split('\n');
    command(`aws events put-events --entries '${entry[0]}`);
    output(`${entry.slice(1).join('\n')}'`);
    await ctx.aws.put(event);

    const mine = (l: LogLine) => l.version === rotated.version;
    const [newPod, runningAt] = await until(
      'the operator to report the rotation, the old pod to go and a new one to run',
      () => {
        if (watchError) throw new AbortPoll(watchError);
        const failed = follower.lines.find((l) => mine(l) && (l.level === 'error' || (l.message === 'rotation handled' && l.result !== 'Rotated')));
        if (failed) throw new AbortPoll(new Error(`the operator reported: ${prettyLogLine(failed)}`));
        if (!follower.lines.some((l) => mine(l) && l.message === 'rotation handled')) return undefined;
        if (!oldPods.every((p) => seen.get(p)?.deletedAt)) return undefined;
        const running = [...seen].filter(([name, at]) => !oldPods.includes(name) && at.runningAt && !at.deletedAt);
        return running.length === 1 ? ([running[0][0], running[0][1].runningAt!] as const) : undefined;
      },
      120_000,
      100,
    );
    const restarted = follower.lines.find((l) => mine(l) && l.message === 'workload restarted');
    return {
      changedAt,
      restartedAt: restarted ? Date.parse(restarted.timestamp) : undefined,
      runningAt,
      oldGoneAt: Math.max(...oldPods.map((p) => seen.get(p)!.deletedAt!)),
      newPod,
      oldPods,
    };
  } finally {
    watch.stop();
  }
}

// ------------------------------------------------------------------ 5. the result

export async function showResult(ctx: E2eContext, s: Samples, r: Rotation): Promise<void> {
  begin('What the mapping recorded');
  command('kubectl get srm');
  printTable(await getTable(ctx.kube.kc, `/apis/${GROUP}/${VERSION}/namespaces/${s.namespace}/${PLURAL}`));
  command(`kubectl get srm ${s.mapping} -o yaml    # its status`);
  const m = await ctx.kube.mapping(s.namespace, s.mapping);
  output(k8s.dumpYaml({ status: m.status }, { lineWidth: -1 }));
  command(`kubectl get events --field-selector involvedObject.name=${s.mapping}`);
  printTable(await getTable(ctx.kube.kc, `/api/v1/namespaces/${s.namespace}/events`, { fieldSelector: `involvedObject.name=${s.mapping}` }));
  command(`kubectl get deployment ${s.deployment} -o jsonpath='{.spec.template.metadata.annotations}'`);
  const d = (await ctx.kube.apps.readNamespacedDeployment(s.deployment, s.namespace)).body;
  output(JSON.stringify(d.spec?.template.metadata?.annotations ?? {}));
  note('A rolling restart through the pod template, like kubectl rollout restart; the versions annotation makes a redelivered event a no-op.');
  println();
  const at = (t: number) => `+${seconds(t - r.changedAt)}`;
  println(bold(`From put-secret-value to the new pod running: ${seconds(r.runningAt - r.changedAt)}`));
  note(
    `${r.restartedAt ? `Deployment patched ${at(r.restartedAt)}, ` : ''}new pod ${r.newPod} running ${at(r.runningAt)}, ` +
      `old pod ${r.oldPods.join(', ')} gone ${at(r.oldGoneAt)}.`,
  );
}

// ------------------------------------------------------------------ 5b. the sample app on the real node

/**
 * The point of it all, with real containers: the sample app reads the secret at start
 * and serves its fingerprint; after put-secret-value and the event, every pod serves
 * the new fingerprint and a client sending requests through the roll saw no failure.
 */
export async function fingerprintApp(ctx: E2eContext, state: DemoState, s: Samples, follower: LogFollower): Promise<number> {
  begin('The sample app on the real node: pods really get the new value');
  note(`${FINGERPRINT_EXAMPLE}: two replicas (readiness probe, maxUnavailable 0) that read ${s.secretName} from Secrets Manager when they start and serve a fingerprint of it (a hash, never the value), a Service, and their mapping.`);
  command(`kubectl apply -f ${FINGERPRINT_EXAMPLE}    # image, moto's address and a toleration of the node's taint filled in`);
  const docs = (k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, FINGERPRINT_EXAMPLE), 'utf8')) as k8s.KubernetesObject[]).filter((d) => d?.kind);
  const dep = fingerprintAppManifest(ctx.env, s.namespace, s.secretName);
  state.fingerprintApplied = true;
  saveState(state);
  for (const doc of docs.map((d) => (d.kind === 'Deployment' ? dep : { ...d, metadata: { ...d.metadata, namespace: s.namespace } }))) {
    await ctx.kube.objects.patch(doc, undefined, undefined, 'secrets-rotation-demo', true, { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_APPLY_YAML } });
    output(`${resourceName(doc)}/${doc.metadata!.name} created`);
  }
  const name = dep.metadata!.name!;
  const selector = `app=${dep.spec!.selector.matchLabels!.app}`;
  command(`kubectl rollout status deployment/${name}`);
  await waitRolledOut(ctx, s.namespace, name, 2);
  output(`deployment "${name}" successfully rolled out`);
  await until(`mapping ${name} to be Ready`, async () => (await ctx.kube.mapping(s.namespace, name)).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 60_000);
  const showServed = async (): Promise<string[]> => {
    const served = await servedByPods(ctx, s.namespace, name);
    for (const x of served) {
      command(`curl -s http://<${x.pod} IP>:8080/`);
      output(JSON.stringify(x.served));
    }
    return served.map((x) => x.served.fingerprint);
  };
  const before = await showServed();

  note('Now a client sends requests to the Service\'s ready endpoints (as kube-proxy routes them) through the whole change; [pods -w] is:');
  command(`kubectl get pods --selector ${selector} --watch`);
  const podsPath = `/api/v1/namespaces/${s.namespace}/pods`;
  const initial = await getTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: selector });
  const cols = shownColumns(initial);
  const { widths } = columns([headerCells(initial, cols), ...(initial.rows ?? []).map((r) => rowCells(r, cols))]);
  const status = headerCells(initial, cols).indexOf('STATUS');
  if (status >= 0) widths[status] = Math.max(widths[status], 'Terminating'.length);
  for (const line of columns([headerCells(initial, cols), ...(initial.rows ?? []).map((r) => rowCells(r, cols))], widths).lines) println(`${dim('[pods -w]')}   ${line}`);
  let watchError: Error | undefined;
  const watch = await watchTable<k8s.V1Pod>(ctx.kube.kc, podsPath, { labelSelector: selector, resourceVersion: initial.metadata?.resourceVersion ?? '' }, (_t, row) => println(`${dim('[pods -w]')}   ${columns([rowCells(row, cols)], widths).lines[0]}`), (err) => (watchError = err));
  const client = new ServiceClient(ctx, s.namespace, name, 240_000).start();
  try {
    await until('the client to get answers', () => client.requests > 10, 30_000);
    const value = `rotated-${randomUUID()}`;
    const changedAt = Date.now();
    command(`aws secretsmanager put-secret-value --secret-id ${s.secretName} --secret-string '<new value B>'`);
    const rotated = await ctx.aws.putSecretValue(s.secretName, value);
    command(`aws events put-events --entries '[{"Source":"aws.secretsmanager","DetailType":"Secret Label Updated",...}]'`);
    await ctx.aws.put(labelUpdatedEvent(rotated));
    const want = fingerprintOf(value);
    await until(
      'every pod of the sample app to serve the new fingerprint',
      async () => {
        if (watchError) throw new AbortPoll(watchError);
        const served = await servedByPods(ctx, s.namespace, name);
        return served.length === 2 && served.every((x) => x.served.fingerprint === want);
      },
      180_000,
      250,
    );
    const tookMs = Date.now() - changedAt;
    await waitRolledOut(ctx, s.namespace, name, 2);
    const n = client.requests;
    await until('a few more answers after the roll', () => client.requests > n + 10, 30_000);
    await client.stop();
    watch.stop();
    follower.poll();
    const after = await showServed();
    const stale = after.filter((f) => before.includes(f));
    println();
    println(bold(`From put-secret-value to every pod serving the new value: ${seconds(tookMs)}`));
    note(`${client.requests} requests during the roll, ${client.failures.length} failed; answers: ${[...client.seen].map(([f, c]) => `${f === want ? 'new' : 'old'} fingerprint ${c}`).join(', ')}.`);
    if (client.failures.length || stale.length) throw new Error(`the roll was not clean: ${client.failures.length} failed request(s) (${client.failures.slice(0, 3).join('; ')}), ${stale.length} pod(s) still on the old value`);
    return tookMs;
  } finally {
    await client.stop();
    watch.stop();
  }
}
