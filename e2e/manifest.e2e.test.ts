/**
 * Issue 23 item 6: the static install manifest (`npm run manifest`, scripts/manifest.ts)
 * as a kubectl-only user applies it. `kubectl apply --server-side` of the rendered file,
 * then the one setting it cannot carry (the queue, with `kubectl set env` as
 * Chart-README.md says), and the operator becomes Ready.
 *
 * Without the real node the operator cannot run as the manifest's pod (kwok's fake pods
 * run nothing), so, as for the chart's e2e tests (scripts/kit/chart.ts), the operator
 * runs as a local process with exactly the env of the applied Deployment and a token of
 * the manifest's ServiceAccount: the manifest's RBAC, admission policy and env wiring are
 * what is tested, not the image.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { MANIFEST_NAMESPACE, MANIFEST_RELEASE, QUEUE_URL_PLACEHOLDER, renderManifest } from '../scripts/manifest';
import { readOperatorDeployment, startReleaseOperator } from './support/chart';
import { e2eContext } from './support/context';
import { kubectl, rand, value, waitMappingSynced } from './support/scenario';
import type { OperatorProcess } from './support/operator';

jest.setTimeout(300_000);

describe('the static install manifest', () => {
  test('kubectl apply, set the queue, and the operator is Ready and serves a mapping', async () => {
    const ctx = e2eContext();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-manifest-'));
    const file = path.join(dir, 'install.yaml');
    const text = renderManifest(ctx.env.HELM_BIN);
    fs.writeFileSync(file, text);
    // Everything but the CRD, for the clean-up: deleting the CRD would delete every mapping of the other tests.
    const withoutCrd = path.join(dir, 'without-crd.yaml');
    fs.writeFileSync(withoutCrd, k8s.loadAllYaml(text).filter((o: k8s.KubernetesObject | null) => o && o.kind !== 'CustomResourceDefinition').map((o) => k8s.dumpYaml(o)).join('---\n'));
    let op: OperatorProcess | undefined;
    const appNs = await ctx.kube.createNamespace('manifest-app');
    try {
      // --force-conflicts: the suite's own copy of the CRD was applied by another field manager.
      const applied = await kubectl(ctx, ['apply', '--server-side', '--force-conflicts', '-f', file]);
      expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });

      // As applied, the operator would refuse to start: the queue is a placeholder.
      const before = await readOperatorDeployment(ctx, MANIFEST_RELEASE, MANIFEST_RELEASE, MANIFEST_NAMESPACE);
      expect(before.env.SQS_QUEUE_URL).toBe(QUEUE_URL_PLACEHOLDER);

      const endpoints = [`AWS_ENDPOINT_URL=${ctx.env.AWS_ENDPOINT_URL}`, ...(ctx.env.AWS_ENDPOINT_URL_SQS ? [`AWS_ENDPOINT_URL_SQS=${ctx.env.AWS_ENDPOINT_URL_SQS}`] : [])];
      const set = await kubectl(ctx, ['set', 'env', `deployment/${MANIFEST_RELEASE}`, '-n', MANIFEST_NAMESPACE, `SQS_QUEUE_URL=${ctx.env.SQS_QUEUE_URL}`, `AWS_REGION=${ctx.env.AWS_REGION}`, ...endpoints]);
      expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: '' });

      const r = await readOperatorDeployment(ctx, MANIFEST_RELEASE, MANIFEST_RELEASE, MANIFEST_NAMESPACE);
      expect(r.serviceAccount).toBe(MANIFEST_RELEASE);
      op = await startReleaseOperator(ctx, r); // waits for /readyz 200

      // Ready means serving: a new mapping gets its secret's current version recorded.
      const secret = await ctx.aws.createSecret(`manifest-${rand()}`, value());
      await ctx.kube.createWorkload('Deployment', appNs, 'web', { app: 'web' });
      await ctx.kube.createMapping(appNs, 'web', { secretId: secret.name, selector: { matchLabels: { app: 'web' } } });
      await waitMappingSynced(ctx, appNs, 'web', secret.version);
    } finally {
      await op?.stop();
      await kubectl(ctx, ['delete', '--ignore-not-found', '--wait=true', '-f', withoutCrd]);
      await ctx.kube.deleteNamespace(appNs);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
