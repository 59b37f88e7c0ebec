/** What a scenario reports, and the sizes it runs at (full and smoke). */

export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: { readonly op: '<=' | '>=' | '='; readonly value: number };
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly setupSeconds: number;
  readonly measuredSeconds: number;
  readonly figures: Figure[];
  readonly notes: string[];
}

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  if (Number.isNaN(f.value)) return false;
  return f.target.op === '<=' ? f.value <= f.target.value : f.target.op === '>=' ? f.value >= f.target.value : f.value === f.target.value;
}

export interface Sizes {
  readonly latencyChanges: number;
  readonly fanoutNamespaces: number;
  readonly fanoutPerNamespace: number;
  readonly scaleNamespaces: number;
  readonly scalePerNamespace: number;
  readonly scaleSecrets: number;
  readonly scaleLatencyChanges: number;
  readonly burstSecrets: number;
  readonly burstChanges: number;
  readonly idleSeconds: number;
  readonly idleSecrets: number;
  readonly pacedNamespaces: number;
  readonly pacedPerNamespace: number;
  /** The paced side's ceiling (ROLLOUT_MAX_CONCURRENT). */
  readonly pacedMaxConcurrent: number;
  /** How long a pod of F takes to become ready (kwok's pod-ready stage). */
  readonly pacedReadyDelaySeconds: number;
  /** Settings on top of the defaults (the smoke run polls briefly so each stop is quick). */
  readonly operatorEnv: Readonly<Record<string, string>>;
}

export const FULL: Sizes = {
  latencyChanges: 200,
  fanoutNamespaces: 10,
  fanoutPerNamespace: 50,
  scaleNamespaces: 100,
  scalePerNamespace: 100,
  scaleSecrets: 1000,
  scaleLatencyChanges: 50,
  burstSecrets: 100,
  burstChanges: 1000,
  idleSeconds: 180,
  idleSecrets: 1000,
  pacedNamespaces: 10,
  pacedPerNamespace: 50,
  pacedMaxConcurrent: 20,
  pacedReadyDelaySeconds: 5,
  operatorEnv: {},
};

/** A few iterations of everything: proves the bench still runs (part of npm test). */
export const SMOKE: Sizes = {
  latencyChanges: 4,
  fanoutNamespaces: 2,
  fanoutPerNamespace: 5,
  scaleNamespaces: 4,
  scalePerNamespace: 10,
  scaleSecrets: 10,
  scaleLatencyChanges: 3,
  burstSecrets: 10,
  burstChanges: 50,
  idleSeconds: 8,
  idleSecrets: 2,
  pacedNamespaces: 2,
  pacedPerNamespace: 5,
  pacedMaxConcurrent: 2,
  pacedReadyDelaySeconds: 2,
  operatorEnv: { SQS_WAIT_TIME_SECONDS: '2' },
};
