/**
 * What the fault scenarios of discovered sources share: the External Secrets Operator
 * started for the file, an ExternalSecret with Deployments that take its target Secret
 * as their environment, and a watch on that Secret that says when ESO wrote a new value
 * into it, so a scenario can prove a consumer rolled only after (its new pods read the
 * new value), not merely that its annotation names the new version.
 */
import type { Secret } from '../../support/aws';
import type { E2eContext } from '../../support/context';
import { createAwsSecretStore, createExternalSecret, removeEsoCrds, startEso, type Eso } from '../../support/eso';
import type { FaultFile } from './fixture';
import type { Ledger } from './ledger';
import { progress } from './progress';

/** ESO for this file (CRDs a dead run left behind removed first), reaching AWS through `awsEndpoint` if given; stop it in the file's cleanup. */
export async function startFaultEso(f: FaultFile, awsEndpoint?: string): Promise<Eso> {
  await removeEsoCrds(f.ctx);
  const eso = await startEso(f.ctx, { awsEndpoint });
  progress(f.scenario, `External Secrets Operator up (log ${eso.logFile})`);
  return eso;
}

/** Chart values for discovery of ExternalSecrets, with ESO's sync deadline. */
export function discoveryValues(syncTimeoutSeconds: number): string[] {
  return ['--set', 'discovery.externalSecrets.enabled=true', '--set', `discovery.externalSecrets.syncTimeoutSeconds=${syncTimeoutSeconds}`];
}

/**
 * A SecretStore, ExternalSecret `name` of `secret` (target Secret `<name>-target`) synced
 * once, and `count` Deployments `<name>-app-<i>` using the target; the ledger expects
 * them to roll. Resolves once their pods run.
 */
export async function externalSecretConsumers(f: FaultFile, ledger: Ledger, ns: string, name: string, secret: Secret, count: number, refreshInterval = '1h'): Promise<{ names: string[]; target: string }> {
  await createAwsSecretStore(f.ctx, ns, `${name}-store`);
  const target = `${name}-target`;
  await createExternalSecret(f.ctx, ns, name, { store: `${name}-store`, remoteKey: secret.name, target, refreshInterval });
  const names = await f.deployments(ns, `${name}-app`, count, () => ({ consumer: name }), { envFromSecret: target });
  ledger.track(ns, names, [secret], true);
  await f.waitRunning(ns, names);
  return { names, target };
}

/** Polls a Secret's data (the test may read it; the operator never does) and remembers when it last changed. */
export class SecretContentWatch {
  private last?: string;
  /** When the content was first seen different from the one before (ms), in order. */
  readonly changes: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ctx: E2eContext,
    private readonly ns: string,
    private readonly name: string,
    intervalMs = 100,
  ) {
    this.timer = setInterval(() => void this.poll(), intervalMs);
  }

  private async poll(): Promise<void> {
    const data = JSON.stringify((await this.ctx.kube.core.readNamespacedSecret(this.name, this.ns).catch(() => undefined))?.body.data ?? null);
    if (this.last !== undefined && data !== this.last) this.changes.push(Date.now());
    this.last = data;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * One line per Deployment whose last rollout (its newest ReplicaSet) began before the
   * Secret last changed: its pods started on the old value. ReplicaSet times have whole
   * seconds, so only a rollout a whole second before the change counts.
   */
  async rolledBeforeLastChange(names: readonly string[]): Promise<string[]> {
    const changedAt = this.changes.at(-1);
    if (changedAt === undefined) return [`Secret ${this.ns}/${this.name} never changed: ESO did not sync the new value`];
    const rss = (await this.ctx.kube.apps.listNamespacedReplicaSet(this.ns)).body.items;
    const out: string[] = [];
    for (const n of names) {
      const newest = rss
        .filter((r) => r.metadata?.labels?.['workload-name'] === n)
        .map((r) => new Date(r.metadata?.creationTimestamp ?? 0).getTime())
        .sort((a, b) => b - a)[0];
      if (newest !== undefined && newest < Math.floor(changedAt / 1000) * 1000 - 1000) out.push(`${this.ns}/${n}: last rolled at ${new Date(newest).toISOString()}, before ESO wrote the new value into Secret ${this.name} (${new Date(changedAt).toISOString()}): its pods run the old value`);
    }
    return out;
  }
}
