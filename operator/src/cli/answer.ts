/**
 * What `srm preview` and `srm status` answer, pure: from the objects the shell read (the
 * mappings, the discovered sources, the workloads they select) and the time. Matching is
 * the operator's own (the mapping index, discovery's rules, `consumes`), the order is the
 * rollout engine's (rolloutOrder, waves) and a window's verdict is windows.ts's: the
 * preview says what the operator would do because it runs the operator's code.
 */
import { consumes, matchSources, type DiscoveredSource } from '../discovery/model';
import { MappingIndex } from '../mappings/mappingIndex';
import { normaliseMapping, type Mapping, type RestartWindowSpec, type SecretsRotationMapping } from '../mappings/model';
import { rolloutOrder, waves, type RolloutPolicy, type RolloutRecord } from '../rollout/engine';
import { compileWindow, windowVerdict, type CompiledWindow } from '../rollout/windows';
import { parseSecretId, type SecretScope } from '../secrets/secretId';
import { WORKLOAD_KINDS, type WorkloadState } from '../workloads/workload';

/** A secret named by bare name may live in any account and region: the preview cannot know the operator's. */
const ANY_SCOPE: SecretScope = { accounts: [], regions: [] };

/** What a change to the secret reaches: a valid mapping (with its object), or a discovered source. */
export interface Found {
  readonly mapping: Mapping;
  /** The SecretsRotationMapping itself (spec.rollout, spec.suspend, status.rollout); absent for a discovered source. */
  readonly object?: SecretsRotationMapping;
}

/** The mappings and discovered sources naming `secret`, in the order the operator plans them. */
export function matchingSources(secret: string, objects: readonly SecretsRotationMapping[], sources: readonly DiscoveredSource[]): Found[] {
  const ref = parseSecretId(secret);
  const index = new MappingIndex(ANY_SCOPE);
  const byKey = new Map<string, SecretsRotationMapping>();
  for (const o of objects) {
    const n = normaliseMapping(o, WORKLOAD_KINDS);
    if (!n.ok) continue; // the operator ignores it too; its status says why
    index.upsert(n.mapping);
    byKey.set(n.mapping.key, o);
  }
  return [...index.lookup(ref).map((mapping) => ({ mapping, object: byKey.get(mapping.key) })), ...matchSources(sources, ref, ANY_SCOPE, WORKLOAD_KINDS).map((mapping) => ({ mapping }))];
}

/** The chart's rollouts.* as far as the preview needs them. */
export interface Defaults {
  readonly maxConcurrent: number;
  readonly windows: readonly RestartWindowSpec[];
}

export interface PreviewInput {
  readonly secret: string;
  /** Each source with the workloads its selector lists (for a discovered source: every workload of its namespace). */
  readonly matches: readonly (Found & { readonly workloads: readonly WorkloadState[]; readonly canaries?: readonly WorkloadState[] })[];
  readonly defaults: Defaults;
  readonly now: Date;
}

export type HoldReason = 'Halted' | 'Suspended' | 'OutsideWindow' | 'InvalidWindow';

export interface PreviewSource {
  readonly via: 'SecretsRotationMapping' | 'ExternalSecret' | 'SecretProviderClass';
  readonly namespace: string;
  readonly name: string;
  readonly maxConcurrent: number;
  readonly canaries: number;
  /** Workload ids ("Kind/name", in the source's namespace) in the order they would roll. */
  readonly waves: readonly { readonly canary: boolean; readonly workloads: readonly string[] }[];
  /** What would hold the restarts now; absent: they would start at once. */
  readonly hold?: { readonly reason: HoldReason; readonly message: string; readonly nextOpen?: string };
}

export interface PreviewAnswer {
  readonly secret: string;
  readonly at: string;
  /** Distinct workloads restarted, however many sources reach each. */
  readonly workloads: number;
  readonly sources: readonly PreviewSource[];
}

const localId = (w: WorkloadState) => `${w.kind}/${w.name}`;

export function previewAnswer(input: PreviewInput): PreviewAnswer {
  const sources = input.matches.map((m): PreviewSource => {
    const spec = m.object?.spec;
    const reached = m.mapping.origin ? m.workloads.filter((w) => consumes(w.references, m.mapping.origin!)) : m.workloads;
    const maxConcurrent = spec?.rollout?.maxConcurrent ?? input.defaults.maxConcurrent;
    const canarySpec = spec?.rollout?.canary;
    const canary: RolloutPolicy['canary'] = canarySpec?.count !== undefined ? { count: canarySpec.count } : canarySpec?.percent !== undefined ? { percent: canarySpec.percent } : undefined;
    const { order, canaries } = rolloutOrder({ versions: {}, workloads: reached.map(localId), preferredCanaries: (m.canaries ?? []).map(localId) }, { canary });
    const canaryWaves = Math.ceil(canaries / maxConcurrent);
    const hold = holdNow(m.object, spec?.rollout?.windows ?? input.defaults.windows, input.now);
    return {
      via: m.mapping.origin ? m.mapping.origin.object.kind as PreviewSource['via'] : 'SecretsRotationMapping',
      namespace: m.mapping.namespace,
      name: m.mapping.name,
      maxConcurrent,
      canaries,
      waves: waves(order, canaries, maxConcurrent).map((workloads, i) => ({ canary: i < canaryWaves, workloads })),
      ...(hold ? { hold } : {}),
    };
  });
  const distinct = new Set(sources.flatMap((s) => s.waves.flatMap((w) => w.workloads.map((id) => `${s.namespace}/${id}`))));
  return { secret: input.secret, at: input.now.toISOString(), workloads: distinct.size, sources };
}

/** What holds a new change's restarts now, in the engine's precedence: a halt, suspend, then the windows. */
function holdNow(object: SecretsRotationMapping | undefined, windows: readonly RestartWindowSpec[], now: Date): PreviewSource['hold'] {
  const record = (object?.status as { rollout?: Partial<RolloutRecord> } | undefined)?.rollout;
  if (record?.phase === 'Halted') return { reason: 'Halted', message: record.message ?? 'the last rollout halted' };
  if (object?.spec?.suspend === true) return { reason: 'Suspended', message: 'spec.suspend is true: the change is recorded, nothing is restarted' };
  const compiled: CompiledWindow[] = [];
  for (const w of windows) {
    const c = compileWindow(w);
    if ('problem' in c) return { reason: 'InvalidWindow', message: c.problem };
    compiled.push(c);
  }
  const verdict = windowVerdict(compiled, now);
  if (verdict.open) return undefined;
  if (!verdict.nextOpen) return { reason: 'OutsideWindow', message: 'outside the restart windows: none opens within a year' };
  const at = verdict.nextOpen.toISOString();
  return { reason: 'OutsideWindow', message: `outside the restart windows: the next opens at ${at}`, nextOpen: at };
}

export interface StatusRow {
  readonly namespace: string;
  readonly mapping: string;
  readonly phase: string;
  readonly summary: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly rolling: readonly string[];
  readonly healthy: readonly string[];
  readonly waiting: readonly string[];
  readonly failed: readonly string[];
  readonly deferred: readonly string[];
  readonly gone: readonly string[];
  readonly reason?: string;
  readonly message?: string;
  readonly nextOpen?: string;
}

export interface StatusAnswer {
  readonly rollouts: readonly StatusRow[];
}

/** The rollouts the mappings' status records (status.rollout), by namespace and name. */
export function statusAnswer(objects: readonly SecretsRotationMapping[], filter: { readonly namespace?: string; readonly mapping?: string }): StatusAnswer {
  const rows = objects
    .filter((o) => (!filter.namespace || o.metadata.namespace === filter.namespace) && (!filter.mapping || o.metadata.name === filter.mapping))
    .flatMap((o): StatusRow[] => {
      const r = (o.status as { rollout?: Partial<RolloutRecord> & { summary?: string } } | undefined)?.rollout;
      if (!r?.phase) return [];
      const ids = r.workloads ?? [];
      const states = r.states ?? '';
      const having = (s: string) => ids.filter((_, i) => states[i] === s);
      return [
        {
          namespace: o.metadata.namespace ?? '',
          mapping: o.metadata.name ?? '',
          phase: r.phase,
          summary: r.summary ?? r.phase,
          versions: r.versions ?? {},
          rolling: having('s'),
          healthy: having('h'),
          waiting: having('p'),
          failed: having('f'),
          deferred: having('d'),
          gone: having('g'),
          ...(r.reason ? { reason: r.reason } : {}),
          ...(r.message ? { message: r.message } : {}),
          ...(r.nextOpen !== undefined ? { nextOpen: new Date(r.nextOpen * 1000).toISOString() } : {}),
        },
      ];
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.mapping.localeCompare(b.mapping));
  return { rollouts: rows };
}
