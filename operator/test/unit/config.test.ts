import { ConfigError, DEFAULT_LEASE_NAMESPACE, DEFAULTS, loadConfig } from '../../src/config';
import type { Where } from '../../src/kube/where';

const base = { SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q', POD_NAMESPACE: 'ops' };

describe('loadConfig', () => {
  it('refuses lease timings that would let two replicas write at once, with one line that says why', () => {
    expect(() => loadConfig({ ...base, KUBE_REQUEST_TIMEOUT_SECONDS: '6' })).toThrow(
      new ConfigError(
        'LEASE_DURATION_SECONDS',
        'must be at least LEASE_RENEW_DEADLINE_SECONDS + KUBE_REQUEST_TIMEOUT_SECONDS (16), got 15: a write sent just before the renew deadline could still be in flight when another replica takes over',
      ),
    );
    expect(loadConfig({ ...base, KUBE_REQUEST_TIMEOUT_SECONDS: '6', LEASE_DURATION_SECONDS: '16' }).kubeRequestTimeoutSeconds).toBe(6);
    // Without leader election there is no other replica to overlap with.
    expect(loadConfig({ ...base, KUBE_REQUEST_TIMEOUT_SECONDS: '30', LEADER_ELECTION: 'false' }).kubeRequestTimeoutSeconds).toBe(30);
  });

  it("takes the home account and region of bare secret names from the queue URL, on AWS and emulators alike", () => {
    expect(loadConfig(base).home).toEqual({ account: '123456789012', region: 'eu-west-1' });
    expect(loadConfig({ ...base, SQS_QUEUE_URL: 'http://127.0.0.1:4566/000000000000/q', AWS_REGION: 'us-east-1' }).home).toEqual({ account: '000000000000', region: 'us-east-1' });
    expect(loadConfig({ ...base, SQS_QUEUE_URL: 'http://localhost/q', AWS_REGION: 'us-east-1' }).home).toEqual({ region: 'us-east-1' });
  });

  describe("the Lease's namespace", () => {
    const { POD_NAMESPACE: _, ...outsideEnv } = base;
    const lease = (env: Record<string, string>, where: Where) => {
      const { namespace, namespaceFrom } = loadConfig(env, 'host-1', where).leaderElection;
      return { namespace, namespaceFrom };
    };

    it('inside a cluster is POD_NAMESPACE (the downward API), and start-up stops without it', () => {
      expect(lease(base, { inCluster: true })).toEqual({ namespace: 'ops', namespaceFrom: 'POD_NAMESPACE' });
      expect(() => loadConfig(outsideEnv, 'host-1', { inCluster: true, kubeconfigNamespace: 'team-a' })).toThrow(
        new ConfigError('POD_NAMESPACE', 'is required when LEADER_ELECTION is true (the Lease lives there)'),
      );
    });

    it("outside a cluster is the kubeconfig's current context's namespace, else default, and POD_NAMESPACE still wins", () => {
      expect(lease(outsideEnv, { inCluster: false, kubeconfigNamespace: 'team-a' })).toEqual({ namespace: 'team-a', namespaceFrom: 'kubeconfig context' });
      expect(lease(outsideEnv, { inCluster: false })).toEqual({ namespace: DEFAULT_LEASE_NAMESPACE, namespaceFrom: 'default' });
      expect(lease({ ...outsideEnv, POD_NAMESPACE: ' ' }, { inCluster: false, kubeconfigNamespace: ' ' })).toEqual({ namespace: 'default', namespaceFrom: 'default' });
      expect(lease(base, { inCluster: false, kubeconfigNamespace: 'team-a' })).toEqual({ namespace: 'ops', namespaceFrom: 'POD_NAMESPACE' });
    });
  });

  it('applies every documented default', () => {
    const c = loadConfig(base, 'host-1');
    expect(c).toMatchObject({
      queueUrl: base.SQS_QUEUE_URL,
      region: 'eu-west-1',
      watchNamespaces: [],
      logLevel: DEFAULTS.LOG_LEVEL,
      httpPort: DEFAULTS.HTTP_PORT,
      dryRun: false,
      maxConcurrentApiRequests: DEFAULTS.MAX_CONCURRENT_API_REQUESTS,
      waitTimeSeconds: 20,
      maxMessages: 10,
      visibilityTimeoutSeconds: DEFAULTS.SQS_VISIBILITY_TIMEOUT_SECONDS,
      driftCheckIntervalSeconds: DEFAULTS.DRIFT_CHECK_INTERVAL_SECONDS,
      allowedAccountIds: [],
      allowedRegions: [],
      leaderElection: { enabled: true, leaseName: DEFAULTS.LEASE_NAME, namespace: 'ops', identity: 'host-1', leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 },
    });
  });

  it('knows when an SQS endpoint is set (an emulator), so queue URLs are not taken as the endpoint', () => {
    expect(loadConfig(base).sqsEndpointSet).toBe(false);
    expect(loadConfig({ ...base, AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }).sqsEndpointSet).toBe(true);
    expect(loadConfig({ ...base, AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:5000' }).sqsEndpointSet).toBe(true);
  });

  it('reads every knob', () => {
    const c = loadConfig({
      ...base,
      AWS_REGION: 'us-east-1',
      WATCH_NAMESPACES: ' a, b ,a',
      LOG_LEVEL: 'DEBUG',
      HTTP_PORT: '9000',
      DRY_RUN: 'true',
      MAX_CONCURRENT_API_REQUESTS: '3',
      SQS_WAIT_TIME_SECONDS: '5',
      SQS_MAX_MESSAGES: '4',
      SQS_VISIBILITY_TIMEOUT_SECONDS: '30',
      RESYNC_INTERVAL_SECONDS: '7',
      DRIFT_CHECK_INTERVAL_SECONDS: '0',
      ALLOWED_ACCOUNT_IDS: '123456789012',
      ALLOWED_REGIONS: 'us-east-1,eu-west-1',
      LEADER_ELECTION: 'false',
      LEASE_NAME: 'l',
      POD_NAME: 'pod-1',
    });
    expect(c).toMatchObject({
      region: 'us-east-1',
      watchNamespaces: ['a', 'b'],
      logLevel: 'debug',
      httpPort: 9000,
      dryRun: true,
      maxConcurrentApiRequests: 3,
      waitTimeSeconds: 5,
      maxMessages: 4,
      visibilityTimeoutSeconds: 30,
      resyncIntervalSeconds: 7,
      driftCheckIntervalSeconds: 0,
      allowedAccountIds: ['123456789012'],
      allowedRegions: ['us-east-1', 'eu-west-1'],
      leaderElection: expect.objectContaining({ enabled: false, leaseName: 'l', identity: 'pod-1' }),
    });
  });

  it('still reads the deprecated MAX_CONCURRENT_RESTARTS, alone or agreeing with MAX_CONCURRENT_API_REQUESTS', () => {
    expect(loadConfig({ ...base, MAX_CONCURRENT_RESTARTS: '2' }).maxConcurrentApiRequests).toBe(2);
    expect(loadConfig({ ...base, MAX_CONCURRENT_RESTARTS: '2', MAX_CONCURRENT_API_REQUESTS: '2' }).maxConcurrentApiRequests).toBe(2);
  });

  it.each([
    [{ SQS_QUEUE_URL: '' }, 'SQS_QUEUE_URL', /required/],
    [{ SQS_QUEUE_URL: 'not a url' }, 'SQS_QUEUE_URL', /not a queue URL/],
    [{ SQS_QUEUE_URL: 'http://localhost:4566/123/q' }, 'AWS_REGION', /cannot be derived/],
    [{ HTTP_PORT: 'eighty' }, 'HTTP_PORT', /integer/],
    [{ HTTP_PORT: '70000' }, 'HTTP_PORT', /integer/],
    [{ SQS_MAX_MESSAGES: '11' }, 'SQS_MAX_MESSAGES', /1 to 10/],
    [{ SQS_WAIT_TIME_SECONDS: '21' }, 'SQS_WAIT_TIME_SECONDS', /0 to 20/],
    [{ MAX_CONCURRENT_API_REQUESTS: '0' }, 'MAX_CONCURRENT_API_REQUESTS', /integer/],
    [{ MAX_CONCURRENT_RESTARTS: '0' }, 'MAX_CONCURRENT_RESTARTS', /integer/],
    [{ MAX_CONCURRENT_API_REQUESTS: '3', MAX_CONCURRENT_RESTARTS: '4' }, 'MAX_CONCURRENT_RESTARTS', /deprecated name of MAX_CONCURRENT_API_REQUESTS/],
    [{ DRY_RUN: 'yes' }, 'DRY_RUN', /true or false/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
    [{ WATCH_NAMESPACES: 'ok,Not_OK' }, 'WATCH_NAMESPACES', /Not_OK/],
    [{ ALLOWED_ACCOUNT_IDS: '1234' }, 'ALLOWED_ACCOUNT_IDS', /1234/],
    [{ ALLOWED_REGIONS: 'mars' }, 'ALLOWED_REGIONS', /mars/],
    [{ POD_NAMESPACE: '' }, 'POD_NAMESPACE', /LEADER_ELECTION/],
    [{ LEASE_RENEW_DEADLINE_SECONDS: '20' }, 'LEASE_RENEW_DEADLINE_SECONDS', /less than LEASE_DURATION_SECONDS/],
    [{ LEASE_RETRY_PERIOD_SECONDS: '10' }, 'LEASE_RETRY_PERIOD_SECONDS', /less than LEASE_RENEW_DEADLINE_SECONDS/],
  ])('%j stops start-up naming %s', (env, variable, message) => {
    let error: unknown;
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toMatch(new RegExp(`^configuration error: ${variable} `));
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain('\n');
  });
});

describe('the README configuration table', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  const readme = fs.readFileSync(`${__dirname}/../../../README.md`, 'utf8');
  const source = fs.readFileSync(`${__dirname}/../../src/config.ts`, 'utf8');
  const rows = new Map([...readme.matchAll(/^\| `([A-Z_]+)`[^|]*\| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]));

  it('lists every variable config.ts reads', () => {
    const read = [...source.matchAll(/\(env, '([A-Z_]+)'/g)].map((m) => m[1]);
    expect(read.length).toBeGreaterThan(15);
    for (const v of read) expect(rows.has(v) || readme.includes(`\`${v}\``)).toBe(true);
  });

  it('states every default as config.ts applies it', () => {
    for (const [k, v] of Object.entries(DEFAULTS)) expect([k, rows.get(k)]).toEqual([k, `\`${String(v)}\``]);
  });
});

describe('notifications (NOTIFY_*)', () => {
  const base = { SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q', POD_NAMESPACE: 'ops' };

  it('are off without NOTIFY_WEBHOOK_URL', () => {
    expect(loadConfig(base).notify).toBeUndefined();
  });

  it('take the URL, the cluster name and the knobs, with their defaults', () => {
    const n = loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/services/T0/B0/token', NOTIFY_CLUSTER_NAME: 'prod-eu' }).notify!;
    expect({ ...n, url: n.url.href }).toEqual({
      url: 'https://hooks.example.com/services/T0/B0/token',
      clusterName: 'prod-eu',
      timeoutMs: DEFAULTS.NOTIFY_TIMEOUT_SECONDS * 1000,
      deadlineMs: DEFAULTS.NOTIFY_DEADLINE_SECONDS * 1000,
      queueSize: DEFAULTS.NOTIFY_QUEUE_SIZE,
    });
  });

  it.each([
    ['not a URL', 'hooks.example.com/secret-token', 'NOTIFY_WEBHOOK_URL is not a URL (its value is not shown: it may hold a token)'],
    ['another scheme', 'ftp://hooks.example.com/secret-token', 'NOTIFY_WEBHOOK_URL must be an http:// or https:// URL, got a ftp: URL'],
    ['a fragment', 'https://hooks.example.com/secret-token#x', 'NOTIFY_WEBHOOK_URL has a #fragment, which is never sent to the server: drop it'],
  ])('refuse a bad URL (%s) with one line that does not echo it', (_what, url, message) => {
    let error: unknown;
    try {
      loadConfig({ ...base, NOTIFY_WEBHOOK_URL: url });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`configuration error: ${message}`);
    expect((error as Error).message).not.toContain('secret-token');
  });

  it('refuse a deadline shorter than one attempt', () => {
    expect(() => loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/h', NOTIFY_TIMEOUT_SECONDS: '10', NOTIFY_DEADLINE_SECONDS: '5' })).toThrow(
      new ConfigError('NOTIFY_DEADLINE_SECONDS', 'must be at least NOTIFY_TIMEOUT_SECONDS (10), got 5'),
    );
  });
});

describe('rollouts (ROLLOUT_*)', () => {
  const base = { SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q', POD_NAMESPACE: 'ops' };

  it("default to the chart's: 10 rolling at once, no settling, each workload's own deadline, no windows", () => {
    expect(loadConfig(base).rollouts).toEqual({ maxConcurrent: DEFAULTS.ROLLOUT_MAX_CONCURRENT, settleSeconds: DEFAULTS.ROLLOUT_SETTLE_SECONDS, windows: [], detectCrashLoop: DEFAULTS.ROLLOUT_DETECT_CRASH_LOOP });
    expect([DEFAULTS.ROLLOUT_MAX_CONCURRENT, DEFAULTS.ROLLOUT_SETTLE_SECONDS, DEFAULTS.ROLLOUT_DETECT_CRASH_LOOP]).toEqual([10, 0, true]);
  });

  it('take the ceiling, settle, health deadline and windows the chart passes', () => {
    const windows = [{ kind: 'deny', schedule: '0 9 * * MON-FRI', duration: '8h', timeZone: 'Europe/Berlin' }];
    expect(loadConfig({ ...base, ROLLOUT_MAX_CONCURRENT: '20', ROLLOUT_SETTLE_SECONDS: '10', ROLLOUT_HEALTH_TIMEOUT_SECONDS: '300', ROLLOUT_WINDOWS: JSON.stringify(windows), ROLLOUT_DETECT_CRASH_LOOP: 'false' }).rollouts).toEqual({
      detectCrashLoop: false,
      maxConcurrent: 20,
      settleSeconds: 10,
      healthTimeoutSeconds: 300,
      windows,
    });
    expect(loadConfig({ ...base, ROLLOUT_WINDOWS: '[]' }).rollouts.windows).toEqual([]);
  });

  it.each([
    ['ROLLOUT_MAX_CONCURRENT', '0', /must be an integer from 1 to /],
    ['ROLLOUT_SETTLE_SECONDS', '-1', /must be an integer from 0 to /],
    ['ROLLOUT_HEALTH_TIMEOUT_SECONDS', '0', /must be an integer from 1 to /],
    ['ROLLOUT_WINDOWS', '{"kind":"allow"}', /must be a JSON list of windows/],
    ['ROLLOUT_WINDOWS', 'not json', /must be a JSON list of windows/],
    ['ROLLOUT_WINDOWS', '[{"kind":"allow","schedule":"0 22 * * *","duration":"2h","timeZone":"Mars/Base"}]', /window 0: timeZone must be an IANA time zone name, got "Mars\/Base"/],
    ['ROLLOUT_WINDOWS', '[{"kind":"allow","schedule":"0 22 * * *","duration":"2h","timeZone":"UTC"},{"kind":"deny","schedule":"61 * * * *","duration":"1h","timeZone":"UTC"}]', /window 1: schedule "61 \* \* \* \*" is not a cron schedule/],
    ['ROLLOUT_WINDOWS', '[{"kind":"allow","schedule":"0 22 * * *","timeZone":"UTC"}]', /window 0: needs kind, schedule, duration and timeZone, each a string/],
  ])('refuse a bad %s (%s) with one line naming it', (variable, value, message) => {
    let error: unknown;
    try {
      loadConfig({ ...base, [variable]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
