/**
 * The ledger every fault scenario ends with. It is kept from the cluster's own
 * records, not from the operator's word:
 * - each Deployment's ReplicaSets are its rollout history, and each carries the pod
 *   template's `secret-versions` annotation: one ReplicaSet per restart, so two
 *   ReplicaSets with the same versions are one version rolled twice (doubled);
 * - a workload that should roll must end with the secret's AWSCURRENT version on its
 *   template and only pods of that template running (else: lost);
 * - a workload that should not roll keeps its single ReplicaSet (stray otherwise);
 * - the queue and the dead-letter queue hold exactly the expected number of messages;
 * - the operator processes that should be alive are; no secret value appears in any
 *   operator output, mapping (status included) or Event.
 */
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../../operator/src/mappings/model';
import { canonicalSecretKey, resolvedSecretRef } from '../../../operator/src/secrets/secretId';
import { SECRET_VERSIONS_ANNOTATION, parseAppliedVersions } from '../../../operator/src/workloads/workload';
import type { Secret } from '../../support/aws';
import type { E2eContext } from '../../support/context';
import type { OperatorProcess } from '../../support/operator';
import { staysFalse, waitFor } from '../../support/wait';
import { appendRow, type ReportRow } from './report';
import type { RssSampler } from './probes';
import { progress } from './progress';

interface Tracked {
  readonly namespace: string;
  readonly name: string;
  /** The secrets whose mappings select this Deployment. */
  readonly secrets: readonly Secret[];
  /** Whether it must end on a new version (false: it must not be restarted at all). */
  readonly roll: boolean;
  readonly replicas: number;
}

interface WorkloadView {
  readonly id: string;
  readonly templateVersions: Record<string, string>;
  readonly templateRaw: string;
  /** Whether the Deployment controller has acted on the latest spec (its ReplicaSets are current). */
  readonly observed: boolean;
  /** The versions annotation of each ReplicaSet ('' for none). */
  readonly replicaSets: readonly string[];
  readonly pods: readonly { name: string; versionsRaw: string; running: boolean; terminating: boolean }[];
}

export interface LedgerExpectations {
  /** Messages the queue must hold at the end (visible + in flight); default 0. */
  queue?: number;
  /** Messages the dead-letter queue must hold at the end; default 0. */
  deadLetters?: number;
  /** Operator processes that must still be running. */
  alive?: readonly OperatorProcess[];
  /** Restarts (ReplicaSets beyond the first) expected in total; default: one per rolling workload. */
  restartsExpected?: number;
  /** When more than restartsExpected may be right (e.g. either of two valid orders): the most allowed. */
  restartsAtMost?: number;
  /** How long convergence may take; default 180 s. */
  timeoutMs?: number;
  /** Values that must appear nowhere (secret values this file wrote). */
  secretValues?: Iterable<string>;
  rss?: RssSampler;
  /** Scenario-specific guarantees found broken before the check (they fail the row too). */
  problems?: readonly string[];
  /** Scenario-specific checks run once the books have settled (or timed out); their lines fail the row too. */
  afterSettled?: () => Promise<readonly string[]>;
  /** Scenario figures for the report; a function is called once the ledger has settled. */
  notes?: string | (() => string);
}

export interface LedgerResult {
  readonly restartsExpected: number;
  readonly restartsObserved: number;
  readonly lost: number;
  readonly doubled: number;
  readonly stray: number;
  readonly queue: number;
  readonly deadLetters: number;
  readonly durationMs: number;
  /** Every broken guarantee, one line each; empty when the scenario held. */
  readonly problems: string[];
  readonly row: ReportRow;
}

export class Ledger {
  eventsSent = 0;
  readonly startedAt = Date.now();
  private readonly tracked: Tracked[] = [];

  constructor(
    private readonly ctx: E2eContext,
    readonly scenario: string,
  ) {}

  /** Deployments selected by mappings of `secrets`; `roll`: whether they must be restarted. */
  track(namespace: string, names: readonly string[], secrets: readonly Secret[], roll: boolean, replicas = 1): void {
    for (const name of names) this.tracked.push({ namespace, name, secrets, roll, replicas });
  }

  sent(n = 1): void {
    this.eventsSent += n;
  }

  get rolling(): number {
    return this.tracked.filter((t) => t.roll).length;
  }

  /** The annotation key and the AWSCURRENT version of each secret, as AWS says now. */
  private async expectedVersions(): Promise<Map<string, { key: string; version: string }>> {
    const out = new Map<string, { key: string; version: string }>();
    for (const s of new Set(this.tracked.flatMap((t) => t.secrets))) {
      if (out.has(s.arn)) continue;
      const version = await this.ctx.aws.currentVersion(s.arn);
      if (!version) throw new Error(`secret ${s.name} has no AWSCURRENT version`);
      out.set(s.arn, { key: canonicalSecretKey(resolvedSecretRef(s.arn, s.name)), version });
    }
    return out;
  }

  private async views(): Promise<Map<string, WorkloadView>> {
    const out = new Map<string, WorkloadView>();
    const byNs = new Map<string, Tracked[]>();
    for (const t of this.tracked) byNs.set(t.namespace, [...(byNs.get(t.namespace) ?? []), t]);
    for (const [ns, tracked] of byNs) {
      const [deps, rss, pods] = await Promise.all([
        this.ctx.kube.apps.listNamespacedDeployment(ns),
        this.ctx.kube.apps.listNamespacedReplicaSet(ns),
        this.ctx.kube.core.listNamespacedPod(ns),
      ]);
      for (const t of tracked) {
        const dep = deps.body.items.find((d) => d.metadata?.name === t.name);
        const annotations = dep?.spec?.template.metadata?.annotations;
        const owned = (o: k8s.V1ObjectMeta | undefined) => o?.labels?.['workload-name'] === t.name;
        out.set(`${ns}/${t.name}`, {
          id: `${ns}/${t.name}`,
          templateVersions: parseAppliedVersions(annotations),
          templateRaw: annotations?.[SECRET_VERSIONS_ANNOTATION] ?? '',
          observed: dep?.status?.observedGeneration === dep?.metadata?.generation,
          replicaSets: rss.body.items.filter((r) => owned(r.metadata)).map((r) => r.spec?.template?.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION] ?? ''),
          pods: pods.body.items
            .filter((p) => owned(p.metadata))
            .map((p) => ({
              name: p.metadata!.name!,
              versionsRaw: p.metadata?.annotations?.[SECRET_VERSIONS_ANNOTATION] ?? '',
              running: p.status?.phase === 'Running' && Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
              terminating: Boolean(p.metadata?.deletionTimestamp),
            })),
        });
      }
    }
    return out;
  }

  /** Whether a workload runs the expected versions: template and every pod. */
  private atVersion(t: Tracked, v: WorkloadView | undefined, expected: Map<string, { key: string; version: string }>): boolean {
    if (!v) return false;
    const templateOk = t.secrets.every((s) => v.templateVersions[expected.get(s.arn)!.key] === expected.get(s.arn)!.version);
    const podsOk = v.pods.length === t.replicas && v.pods.every((p) => p.running && !p.terminating && p.versionsRaw === v.templateRaw);
    // Without pods (replicas 0) only the controller's observedGeneration says the ReplicaSets are counted.
    return templateOk && podsOk && v.observed;
  }

  private async queues(): Promise<{ queue: number; deadLetters: number }> {
    const [q, dlq] = await Promise.all([this.ctx.aws.depth(this.ctx.env.SQS_QUEUE_URL), this.ctx.aws.depth(this.ctx.env.SQS_DEAD_LETTER_QUEUE_URL)]);
    return { queue: q.total, deadLetters: dlq.total };
  }

  /**
   * Waits (up to the deadline) for the end state, then settles the books and writes
   * the report row. Never throws for a broken guarantee: it lists it in `problems`.
   */
  async check(x: LedgerExpectations = {}): Promise<LedgerResult> {
    const wantQueue = x.queue ?? 0;
    const wantDlq = x.deadLetters ?? 0;
    const timeoutMs = x.timeoutMs ?? 180_000;
    progress(this.scenario, `ledger: waiting up to ${timeoutMs / 1000} s for ${this.rolling} workload(s) on their new version, queue ${wantQueue}, dead-letter queue ${wantDlq}`);
    let expected = await this.expectedVersions();
    const converged = async () => {
      const views = await this.views();
      const q = await this.queues();
      return this.tracked.every((t) => (t.roll ? this.atVersion(t, views.get(`${t.namespace}/${t.name}`), expected) : true)) && q.queue === wantQueue && q.deadLetters === wantDlq;
    };
    let timedOut = false;
    try {
      await waitFor('the ledger to balance', converged, { timeoutMs, intervalMs: 1000 });
      // Nothing may happen after the books balance: no late (double) rollout, no message coming back.
      await staysFalse('a change after the ledger balanced', async () => !(await converged()), 3000, 500);
    } catch (err) {
      timedOut = true;
      progress(this.scenario, `ledger: ${(err as Error).message}`);
    }

    expected = await this.expectedVersions();
    const views = await this.views();
    const q = await this.queues();
    const problems: string[] = [...(x.problems ?? []), ...((await x.afterSettled?.()) ?? [])];
    let lost = 0;
    let doubled = 0;
    let stray = 0;
    let observed = 0;
    for (const t of this.tracked) {
      const id = `${t.namespace}/${t.name}`;
      const v = views.get(id);
      if (!v) {
        problems.push(`${id}: Deployment is missing`);
        continue;
      }
      observed += Math.max(0, v.replicaSets.length - 1);
      const counts = new Map<string, number>();
      for (const r of v.replicaSets) counts.set(r, (counts.get(r) ?? 0) + 1);
      for (const [versions, n] of counts) {
        if (n > 1) {
          doubled += n - 1;
          problems.push(`${id}: ${n} rollouts for the same versions ${versions || '(none)'}`);
        }
      }
      if (t.roll && !this.atVersion(t, v, expected)) {
        lost++;
        const want = t.secrets.map((s) => `${expected.get(s.arn)!.version}`).join(',');
        problems.push(`${id}: not on AWSCURRENT ${want}: template ${v.templateRaw || '(none)'}, pods ${JSON.stringify(v.pods)}`);
      }
      if (!t.roll && v.replicaSets.length > 1) {
        stray++;
        problems.push(`${id}: must not be restarted but has ${v.replicaSets.length} ReplicaSets`);
      }
    }
    const restartsExpected = x.restartsExpected ?? this.rolling;
    const restartsAtMost = x.restartsAtMost ?? restartsExpected;
    if (observed < restartsExpected || observed > restartsAtMost) {
      problems.push(`restarts: expected ${restartsAtMost === restartsExpected ? restartsExpected : `${restartsExpected} to ${restartsAtMost}`}, observed ${observed}`);
    }
    if (q.queue !== wantQueue) problems.push(`queue holds ${q.queue} message(s), expected ${wantQueue}`);
    if (q.deadLetters !== wantDlq) problems.push(`dead-letter queue holds ${q.deadLetters} message(s), expected ${wantDlq}`);
    for (const op of x.alive ?? []) {
      if (!op.alive) problems.push(`operator pid ${op.child.pid} exited (${op.exitCode ?? op.signal}): ${op.raw.slice(-3).join(' | ')}`);
    }
    problems.push(...(await this.leaks(x.secretValues)));
    if (timedOut && problems.length === 0) problems.push('the ledger did not settle before the deadline');

    const durationMs = Date.now() - this.startedAt;
    const row: ReportRow = {
      scenario: this.scenario,
      eventsSent: this.eventsSent,
      restartsExpected,
      ...(restartsAtMost !== restartsExpected ? { restartsAtMost } : {}),
      restartsObserved: observed,
      lost,
      doubled,
      durationMs,
      ...(x.rss ? { peakRssKiB: x.rss.stop() } : {}),
      passed: problems.length === 0,
      ...(x.notes ? { notes: typeof x.notes === 'function' ? x.notes() : x.notes } : {}),
    };
    appendRow(row);
    for (const p of problems) progress(this.scenario, `ledger problem: ${p}`);
    return { restartsExpected, restartsObserved: observed, lost, doubled, stray, queue: q.queue, deadLetters: q.deadLetters, durationMs, problems, row };
  }

  /** Secret values in operator output, mappings (with status) or Events, anywhere in the cluster. */
  private async leaks(values: Iterable<string> | undefined): Promise<string[]> {
    const secrets = [...(values ?? [])];
    if (secrets.length === 0) return [];
    const [mappings, events] = await Promise.all([
      this.ctx.kube.custom.listClusterCustomObject(GROUP, VERSION, PLURAL),
      this.ctx.kube.core.listEventForAllNamespaces(),
    ]);
    const places: [string, string][] = [
      ['mappings (kubectl get srm -A -o yaml)', JSON.stringify(mappings.body)],
      ['Events (kubectl get events -A)', JSON.stringify(events.body)],
      ...this.ctx.operators.map((op): [string, string] => [`operator pid ${op.child.pid} output`, op.raw.join('\n')]),
    ];
    const found: string[] = [];
    for (const [where, text] of places) {
      const hit = secrets.find((s) => text.includes(s));
      if (hit) found.push(`secret value ${hit} appears in ${where}`);
    }
    return found;
  }
}
