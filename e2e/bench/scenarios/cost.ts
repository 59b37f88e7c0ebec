/** E: AWS calls at idle and per change, against polling designs. */
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../../../operator/src/config';
import { rand } from '../../support/scenario';
import { BenchOperator, forEachSaying, say, waitSynced, type Bench } from '../harness';
import { perHour } from '../stats';
import { inScope, mapping, seconds, sleep } from './fixtures';
import type { Figure, ScenarioResult, Sizes } from './result';

/** Reference fleet for the polling arithmetic. */
export const FLEET = { secrets: 100, podsPerSecret: 10 } as const;
/** Secrets Manager: $0.05 per 10,000 API calls; SQS: $0.40 per million requests (us-east-1 list prices). */
const PRICE_PER_CALL = { secretsManager: 0.05 / 10_000, sqs: 0.4 / 1_000_000 } as const;
const HOURS_PER_MONTH = 730;
/** Drift passes are measured at this interval (or a quarter of a shorter idle window, so it holds whole passes) and scaled to the default. */
const MEASURED_DRIFT_INTERVAL_S = 30;
const measuredDriftIntervalS = (z: Sizes) => Math.max(1, Math.min(MEASURED_DRIFT_INTERVAL_S, Math.floor(z.idleSeconds / 4)));
/** Issue 13's target for drift: at most one Secrets Manager call per 100 mapped secrets per pass. */
const DRIFT_CALLS_PER_100_SECRETS_TARGET = 1;

/**
 * Calls per drift pass, from when the calls arrived: a pass's calls come close together and
 * passes `intervalMs` apart. The first and last runs may be cut by the window: only whole
 * ones count when there are any. NaN when no pass was seen.
 */
function callsPerPass(arrivals: readonly number[], intervalMs: number): number {
  const runs: number[] = [];
  let last = -Infinity;
  for (const at of [...arrivals].sort((a, b) => a - b)) {
    if (at - last > intervalMs / 2) runs.push(0);
    runs[runs.length - 1]++;
    last = at;
  }
  const whole = runs.length > 2 ? runs.slice(1, -1) : runs;
  return whole.length === 0 ? NaN : whole.reduce((a, b) => a + b, 0) / whole.length;
}

/**
 * Drift's Secrets Manager calls per idle hour and per month at the default interval, and
 * their price: `callsPerPass` calls every DRIFT_CHECK_INTERVAL_SECONDS.
 */
function driftCost(key: string, label: string, callsPerPass: number): Figure[] {
  const perHour = callsPerPass * (3600 / DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS);
  return [
    { key: `${key}.perIdleHour`, label, value: perHour, unit: 'calls/h' },
    { key: `${key}.perMonth`, label: '  per month', value: perHour * HOURS_PER_MONTH, unit: 'calls' },
    { key: `${key}.usdPerMonth`, label: '  per month, list price', value: perHour * HOURS_PER_MONTH * PRICE_PER_CALL.secretsManager, unit: 'USD' },
  ];
}

export async function cost(b: Bench, z: Sizes, latencyResult?: ScenarioResult): Promise<ScenarioResult> {
  return inScope(b, { id: 'e', namespaces: 1 }, async ({ s, queue, namespaces: [ns], t0 }) => {
    // One prefix for this run's secrets, as a team's or an app's secrets share one (and apart
    // from an earlier run's on the same emulator): drift can list them with one name filter.
    const family = `bench/idle-${rand(6)}/`;
    await forEachSaying('idle secrets and mappings', Array.from({ length: z.idleSecrets }, (_, i) => i), 10, async (i) => {
      const secret = await b.ctx.aws.createSecret(`${family}${i}`);
      await mapping(b, ns, `m${i}`, secret.name, { app: `w${i}` });
    });
    s.operator = s.own(await BenchOperator.start(b, 'e-idle', queue.url, { env: { ...z.operatorEnv, DRIFT_CHECK_INTERVAL_SECONDS: String(measuredDriftIntervalS(z)) } }));
    await s.operator.waitLeading();
    await waitSynced(b, [ns], z.idleSecrets);
    const t1 = performance.now();

    say(`E: idle for ${z.idleSeconds} s`);
    s.operator.aws.reset();
    const w0 = performance.now();
    await sleep(z.idleSeconds * 1000); // the measurement window itself
    const calls = s.operator.aws.snapshot();
    const window = seconds(w0, performance.now());
    const receivesPerHour = perHour(calls['SQS.ReceiveMessage'] ?? 0, window);
    // At idle every Secrets Manager call is drift's (ListSecrets pages, DescribeSecret for what they cannot settle).
    const drift = 'SecretsManager.';
    const driftCallsPerPass = callsPerPass(s.operator.aws.arrivalsOf(drift), measuredDriftIntervalS(z) * 1000);
    const driftPerSecretPerHour = (driftCallsPerPass / z.idleSecrets) * (3600 / DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS);
    const otherPerHour = perHour(Object.entries(calls).filter(([k]) => k !== 'SQS.ReceiveMessage' && !k.startsWith(drift)).reduce((a, [, n]) => a + n, 0), window);
    const perChange = latencyResult?.figures.find((f) => f.key === 'awsCallsPerChange')?.value ?? NaN;

    const fleetOurs = receivesPerHour + driftPerSecretPerHour * FLEET.secrets;
    const fleetOursUsd = (receivesPerHour * PRICE_PER_CALL.sqs + driftPerSecretPerHour * FLEET.secrets * PRICE_PER_CALL.secretsManager) * HOURS_PER_MONTH;
    const poll2m = 30 * FLEET.secrets * FLEET.podsPerSecret;
    const refresh1h = FLEET.secrets;
    const t2 = performance.now();
    return {
      id: 'E',
      title: `Cost: AWS calls at idle (${z.idleSecrets} mapped secrets, ${z.idleSeconds} s) and per change`,
      setupSeconds: seconds(t0, t1),
      measuredSeconds: seconds(t1, t2),
      figures: [
        { key: 'receivesPerIdleHour', label: 'SQS ReceiveMessage per idle hour (long poll)', value: receivesPerHour, unit: 'calls/h' },
        { key: 'driftPerSecretPerHour', label: `Secrets Manager calls per secret per hour (drift, default ${DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS} s)`, value: driftPerSecretPerHour, unit: 'calls/h' },
        // One call per 100 secrets, and a pass needs at least one.
        { key: 'drift.callsPerPass', label: `drift: Secrets Manager calls per pass, ${z.idleSecrets} mapped secrets (1 per 100)`, value: driftCallsPerPass, unit: 'calls', target: { op: '<=', value: Math.max(1, (z.idleSecrets / 100) * DRIFT_CALLS_PER_100_SECRETS_TARGET) } },
        { key: 'drift.callsPer100Secrets', label: '  per 100 mapped secrets', value: (driftCallsPerPass * 100) / z.idleSecrets, unit: 'calls' },
        ...driftCost('drift.before', `  before: one DescribeSecret per secret per pass, ${z.idleSecrets} secrets`, z.idleSecrets),
        ...driftCost('drift.after', `  now: ListSecrets pages (measured), ${z.idleSecrets} secrets`, driftCallsPerPass),
        { key: 'otherPerIdleHour', label: 'other AWS calls per idle hour', value: otherPerHour, unit: 'calls/h' },
        { key: 'callsPerChange', label: 'AWS calls per change (from A)', value: perChange, unit: 'calls' },
        { key: 'fleet.ours', label: `fleet of ${FLEET.secrets} secrets × ${FLEET.podsPerSecret} pods, this operator, idle`, value: fleetOurs, unit: 'calls/h' },
        { key: 'fleet.oursUsdPerMonth', label: '  per month, list prices', value: fleetOursUsd, unit: 'USD' },
        { key: 'fleet.poll2min', label: '  GetSecretValue every 2 min per secret per pod', value: poll2m, unit: 'calls/h' },
        { key: 'fleet.poll2minUsdPerMonth', label: '  per month, list prices', value: poll2m * PRICE_PER_CALL.secretsManager * HOURS_PER_MONTH, unit: 'USD' },
        { key: 'fleet.refresh1h', label: '  refresh every hour per secret', value: refresh1h, unit: 'calls/h' },
        { key: 'fleet.refresh1hUsdPerMonth', label: '  per month, list prices', value: refresh1h * PRICE_PER_CALL.secretsManager * HOURS_PER_MONTH, unit: 'USD' },
      ],
      notes: [
        `idle calls by operation over ${window.toFixed(0)} s: ${JSON.stringify(calls)}`,
        `drift measured per pass at DRIFT_CHECK_INTERVAL_SECONDS=${measuredDriftIntervalS(z)} and scaled to the default ${DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS} s; 'before' is computed (what drift made before it listed); the emulator also holds the secrets of the scenarios before this one, which a whole-account listing would page through`,
        "staleness: this operator's p50 is scenario A's; a 2-minute poll is 60 s stale on average (and restarts nothing); a 1-hour refresh is 30 min stale on average",
        'prices: Secrets Manager $0.05 per 10,000 calls, SQS $0.40 per million requests; EventBridge delivers AWS service events on the default bus at no charge',
      ],
    };
  });
}
