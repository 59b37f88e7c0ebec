/** Step 6 of the demo: clean up everything it made, in reverse order, saying what it removed. */
import { cleanupEso } from './eso';
import { cleanupCanary } from './badSecret';
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { helm } from '../kit/chart';
import { e2eContext } from '../kit/context';
import { errorMessage } from '../../operator/src/core/log';
import { DEFAULT_STACK_NAME, deletePrerequisites } from '../aws/prerequisites';
import { REPO_ROOT, stackDir, stackDown, stackHealth } from '../stack';
import { isRunning, stopProcessGroup } from '../stack/process';
import { waitFor } from '../kit/wait';
import { LogFollower } from './operatorLog';
import { command, note, output, println, red, seconds } from './ui';
import { forgetState, RELEASE, OPERATOR_NAMESPACE, CRD_NAME, EXAMPLE_FILES, FINGERPRINT_EXAMPLE, saveState, shown, stackDirPrefix, type DemoState } from './state';
import { begin } from './interrupt';
import { exists, resourceName, readSamples } from './samples';

// ------------------------------------------------------------------ 6. clean up

export async function cleanup(state: DemoState, follower?: LogFollower): Promise<boolean> {
  begin("Clean up (the proof of concept's make delete)");
  const failures: string[] = [];
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${errorMessage(err)}`);
      output(red(`failed: ${errorMessage(err)}`));
    }
    saveState(state);
  };
  const ctx = (await stackHealth()).healthy ? e2eContext() : undefined;
  if (!ctx) note(`The local stack in ${shown(stackDir())} is not up: only local processes and files are left to clean up.`);
  const samples = readSamples();

  if (ctx && state.examplesApplied) {
    await step('kubectl delete', async () => {
      command(`kubectl delete ${EXAMPLE_FILES.map((f) => `-f ${f}`).join(' ')}`);
      for (const doc of samples.docs) {
        if (!(await exists(() => ctx.kube.objects.delete(doc)))) continue;
        await waitFor(`${resourceName(doc)}/${doc.metadata.name} to be deleted`, async () => !(await exists(() => ctx.kube.objects.read(doc))), { timeoutMs: 60_000 });
        output(`${resourceName(doc)} "${doc.metadata.name}" deleted`);
      }
      state.examplesApplied = false;
    });
  }
  if (ctx && state.fingerprintApplied) {
    await step('kubectl delete (sample app)', async () => {
      command(`kubectl delete -f ${FINGERPRINT_EXAMPLE}`);
      const docs = (k8s.loadAllYaml(fs.readFileSync(path.join(REPO_ROOT, FINGERPRINT_EXAMPLE), 'utf8')) as k8s.KubernetesObject[]).filter((d) => d?.kind);
      for (const d of docs) {
        const doc = { ...d, metadata: { ...d.metadata, name: d.metadata?.name ?? '', namespace: samples.namespace } };
        if (!(await exists(() => ctx.kube.objects.delete(doc)))) continue;
        await waitFor(`${resourceName(doc)}/${doc.metadata.name} to be deleted`, async () => !(await exists(() => ctx.kube.objects.read(doc))), { timeoutMs: 60_000 });
        output(`${resourceName(doc)} "${doc.metadata.name}" deleted`);
      }
      state.fingerprintApplied = false;
    });
  }
  await cleanupEso(ctx, state, step);
  await cleanupCanary(ctx, state, step);
  if (state.operator?.inCluster) {
    const op = state.operator;
    if (isRunning(op.pid, op.startTime)) await stopProcessGroup(op.pid, op.startTime, { name: 'kubectl logs -f', graceMs: 2_000 });
    follower?.poll();
    note(`The operator pod goes with the release (helm uninstall below); its log stays in ${shown(op.logFile)}.`);
    state.operator = undefined;
  }
  if (state.operator) {
    const op = state.operator;
    await step('stopping the operator', async () => {
      if (!isRunning(op.pid, op.startTime)) {
        note(`The operator process (pid ${op.pid}) has exited; its log stays in ${shown(op.logFile)}.`);
        state.operator = undefined;
        return;
      }
      command(`kill ${op.pid}    # the operator process: SIGTERM, it finishes in-flight work and gives up its Lease`);
      const t = Date.now();
      await stopProcessGroup(op.pid, op.startTime, { name: 'the operator', graceMs: 30_000 });
      follower?.poll();
      note(`The operator stopped in ${seconds(Date.now() - t)}; its log stays in ${shown(op.logFile)}.`);
      state.operator = undefined;
    });
  }
  follower?.stop();
  if (ctx && state.releaseInstalled) {
    await step('helm uninstall', async () => {
      command(`helm uninstall ${RELEASE} --namespace ${OPERATOR_NAMESPACE} --wait`);
      try {
        output((await helm(ctx, ['uninstall', RELEASE, '--namespace', OPERATOR_NAMESPACE, '--wait'])).stdout);
      } catch (err) {
        if (!/not found/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
        output('(no such release)');
      }
      state.releaseInstalled = false;
    });
  }
  if (ctx && state.namespaceCreated) {
    await step('deleting the namespace', async () => {
      command(`kubectl delete namespace ${OPERATOR_NAMESPACE}`);
      if (await exists(() => ctx.kube.core.deleteNamespace(OPERATOR_NAMESPACE))) {
        // Wait only when the stack stays up: a rerun must not meet a Terminating namespace.
        if (!state.stackStarted) await waitFor('the namespace to be gone', async () => !(await exists(() => ctx.kube.core.readNamespace(OPERATOR_NAMESPACE))), { timeoutMs: 120_000 });
        output(`namespace "${OPERATOR_NAMESPACE}" deleted`);
      }
      state.namespaceCreated = false;
    });
  }
  if (ctx && state.crdCreated) {
    await step('deleting the CRD', async () => {
      command(`kubectl delete crd ${CRD_NAME}    # the chart keeps its CRD on uninstall (crds.keep)`);
      if (await exists(() => ctx.kube.ext.deleteCustomResourceDefinition(CRD_NAME))) {
        // As for the namespace: a CRD being deleted cannot be created again.
        if (!state.stackStarted) await waitFor('the CRD to be gone', async () => !(await exists(() => ctx.kube.ext.readCustomResourceDefinition(CRD_NAME))), { timeoutMs: 120_000 });
        output(`customresourcedefinition.apiextensions.k8s.io "${CRD_NAME}" deleted`);
      }
      state.crdCreated = false;
    });
  }
  if (ctx && state.secretCreated) {
    await step('deleting the secret', async () => {
      command(`aws secretsmanager delete-secret --secret-id ${samples.secretName} --force-delete-without-recovery`);
      try {
        const out = await ctx.aws.sm.send(new DeleteSecretCommand({ SecretId: samples.secretName, ForceDeleteWithoutRecovery: true }));
        output(JSON.stringify({ ARN: out.ARN, Name: out.Name, DeletionDate: out.DeletionDate }, null, 4));
      } catch (err) {
        if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      }
      state.secretCreated = false;
    });
  }
  if (state.serviceAccountKubeconfig) {
    fs.rmSync(state.serviceAccountKubeconfig, { force: true });
    state.serviceAccountKubeconfig = undefined;
  }
  if (state.stackStarted) {
    if (ctx) {
      await step('deleting the prerequisites', async () => {
        command(`aws cloudformation delete-stack --stack-name ${DEFAULT_STACK_NAME}`);
        command(`aws cloudformation wait stack-delete-complete --stack-name ${DEFAULT_STACK_NAME}`);
        await deletePrerequisites({ endpoint: ctx.env.AWS_ENDPOINT_URL, region: ctx.env.AWS_REGION, stackName: DEFAULT_STACK_NAME });
      });
    }
    await step('npm run stack:down', async () => {
      command('npm run stack:down');
      await stackDown({ log: (line) => output(line) });
      state.stackStarted = false;
    });
  } else {
    note(`The local stack in ${shown(stackDir())} was up before the demo: it stays up, with its prerequisites.`);
  }
  if (failures.length === 0) {
    forgetState();
    return true;
  }
  println(red(`Clean-up left something behind (${failures.join('; ')}); try again with: ${stackDirPrefix()}npm run demo -- --cleanup`));
  return false;
}
