import { matchingSources, previewAnswer, statusAnswer } from '../../../src/cli/answer';
import { renderPreview, renderStatus } from '../../../src/cli/render';
import type { DiscoveredSource } from '../../../src/discovery/model';
import type { SecretsRotationMapping } from '../../../src/mappings/model';
import type { WorkloadState } from '../../../src/workloads/workload';

const mapping = (name: string, spec: object, status?: object, namespace = 'shop'): SecretsRotationMapping => ({
  metadata: { name, namespace, uid: name, generation: 1 },
  spec: { secretId: 'prod/db', selector: { matchLabels: { app: name } }, ...spec },
  ...(status ? { status } : {}),
});
const deploy = (name: string, namespace = 'shop', secrets: string[] = []): WorkloadState => ({
  kind: 'Deployment',
  namespace,
  name,
  rollout: 'Rolling',
  appliedVersions: {},
  references: { secrets, providerClasses: [] },
});
const es: DiscoveredSource = {
  key: 'externalsecret:shop/db-es',
  generation: 1,
  origin: { source: 'externalsecret', object: { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', namespace: 'shop', name: 'db-es' }, consumedAs: { secret: 'db-creds' }, refresh: { ok: true } },
  secrets: [{ ref: { raw: 'prod/db', readings: [{ name: 'prod/db' }] }, field: 'spec.data[0].remoteRef.key' }],
  unsupported: [],
};
const NOW = new Date('2026-12-07T14:00:00Z');
const DEFAULTS = { maxConcurrent: 2, windows: [] };

describe('preview: which sources a secret reaches', () => {
  it('matches mappings by name or ARN, and discovered sources, through the operator’s own matching', () => {
    const m = [mapping('api', {}), mapping('other', { secretId: 'prod/other' }), mapping('bad', { selector: {} })];
    const found = matchingSources('arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf', m, [es]);
    expect(found.map((f) => f.mapping.key)).toEqual(['shop/api', 'externalsecret:shop/db-es']);
  });
});

describe('preview: the answer', () => {
  const found = (objs: SecretsRotationMapping[]) => matchingSources('prod/db', objs, [es]);

  it('orders canaries first, then waves of maxConcurrent, the engine’s order', () => {
    const [api] = found([mapping('api', { rollout: { canary: { count: 1, selector: { matchLabels: { tier: 'canary' } } }, maxConcurrent: 2 } })]);
    const answer = previewAnswer({
      secret: 'prod/db',
      matches: [{ ...api, workloads: ['a', 'b', 'c', 'd'].map((n) => deploy(n)), canaries: [deploy('c')] }],
      defaults: DEFAULTS,
      now: NOW,
    });
    expect(answer.sources[0]).toMatchObject({
      via: 'SecretsRotationMapping',
      namespace: 'shop',
      name: 'api',
      maxConcurrent: 2,
      canaries: 1,
      waves: [
        { canary: true, workloads: ['Deployment/c'] },
        { canary: false, workloads: ['Deployment/a', 'Deployment/b'] },
        { canary: false, workloads: ['Deployment/d'] },
      ],
    });
    expect(answer.sources[0].hold).toBeUndefined();
    expect(answer.workloads).toBe(4);
  });

  it('keeps of a discovered source only the workloads that consume it, with the chart-wide policy', () => {
    const matches = found([]).map((f) => ({ ...f, workloads: [deploy('reads-it', 'shop', ['db-creds']), deploy('does-not', 'shop', ['other'])] }));
    const answer = previewAnswer({ secret: 'prod/db', matches, defaults: DEFAULTS, now: NOW });
    expect(answer.sources).toEqual([
      expect.objectContaining({ via: 'ExternalSecret', namespace: 'shop', name: 'db-es', maxConcurrent: 2, canaries: 0, waves: [{ canary: false, workloads: ['Deployment/reads-it'] }] }),
    ]);
  });

  it('says what holds a rollout now: a halt, suspend, a closed window with its next opening', () => {
    const closed = { kind: 'allow', schedule: '0 2 * * *', duration: '1h', timeZone: 'UTC' };
    const objs = [
      mapping('halted', {}, { rollout: { phase: 'Halted', reason: 'CanaryUnhealthy', message: 'canary Deployment/x is not healthy' } }),
      mapping('suspended', { suspend: true }),
      mapping('windowed', { rollout: { windows: [closed] } }),
    ];
    const matches = found(objs)
      .filter((f) => !f.mapping.origin)
      .map((f) => ({ ...f, workloads: [deploy(f.mapping.name)] }));
    const answer = previewAnswer({ secret: 'prod/db', matches, defaults: DEFAULTS, now: NOW });
    expect(answer.sources.map((s) => [s.name, s.hold])).toEqual([
      ['halted', { reason: 'Halted', message: 'canary Deployment/x is not healthy' }],
      ['suspended', { reason: 'Suspended', message: 'spec.suspend is true: the change is recorded, nothing is restarted' }],
      ['windowed', { reason: 'OutsideWindow', message: 'outside the restart windows: the next opens at 2026-12-08T02:00:00.000Z', nextOpen: '2026-12-08T02:00:00.000Z' }],
    ]);
  });

  it('applies the chart-wide windows to a mapping without its own', () => {
    const deny = { kind: 'deny', schedule: '0 * * * *', duration: '1h', timeZone: 'UTC' } as const;
    const matches = found([mapping('api', {})]).map((f) => ({ ...f, workloads: [deploy('a')] }));
    const answer = previewAnswer({ secret: 'prod/db', matches, defaults: { maxConcurrent: 3, windows: [deny] }, now: NOW });
    expect(answer.sources.map((s) => s.hold?.reason)).toEqual(['OutsideWindow', 'OutsideWindow']);
  });

  it('renders a table a person reads, naming the secret when nothing matches', () => {
    const matches = found([mapping('api', { rollout: { canary: { percent: 50 } } })]).map((f) => ({ ...f, workloads: [deploy('a'), deploy('b', 'shop', ['db-creds'])] }));
    const table = renderPreview(previewAnswer({ secret: 'prod/db', matches, defaults: DEFAULTS, now: NOW }));
    expect(table.split('\n')).toEqual([
      'A change to prod/db would restart 2 workload(s):',
      'SOURCE                      NAMESPACE  WAVE      WORKLOAD      HELD',
      'SecretsRotationMapping/api  shop       canary 1  Deployment/a  -',
      'SecretsRotationMapping/api  shop       wave 1    Deployment/b  -',
      'ExternalSecret/db-es        shop       wave 1    Deployment/b  -',
    ]);
    expect(renderPreview(previewAnswer({ secret: 'nobody/uses', matches: [], defaults: DEFAULTS, now: NOW }))).toBe('No mapping or discovered source names nobody/uses: a change to it restarts nothing.');
  });
});

describe('status', () => {
  const record = { phase: 'Rolling', summary: 'Rolling 2/5', workloads: ['Deployment/a', 'Deployment/b', 'Deployment/c', 'Deployment/d', 'Deployment/e'], canaries: 1, states: 'hsfpp', since: 1, stampedAt: [1, 2, 3, 0, 0], versions: { 'prod/db': 'v2' }, handled: {} };
  const objs = [mapping('api', {}, { rollout: record }), mapping('idle', {}), mapping('web', {}, { rollout: { ...record, phase: 'Halted', summary: 'Halted', reason: 'CanaryUnhealthy', message: 'canary Deployment/a is not healthy' } }, 'web')];

  it('lists each rollout: phase, rolling, healthy, waiting, failed, halt reason', () => {
    const answer = statusAnswer(objs, {});
    expect(answer.rollouts).toEqual([
      { namespace: 'shop', mapping: 'api', phase: 'Rolling', summary: 'Rolling 2/5', versions: { 'prod/db': 'v2' }, rolling: ['Deployment/b'], healthy: ['Deployment/a'], waiting: ['Deployment/d', 'Deployment/e'], failed: ['Deployment/c'], deferred: [], gone: [] },
      expect.objectContaining({ namespace: 'web', mapping: 'web', phase: 'Halted', reason: 'CanaryUnhealthy', message: 'canary Deployment/a is not healthy' }),
    ]);
    expect(statusAnswer(objs, { namespace: 'web' }).rollouts.map((r) => r.mapping)).toEqual(['web']);
    expect(statusAnswer(objs, { mapping: 'api' }).rollouts.map((r) => r.mapping)).toEqual(['api']);
  });

  it('renders a table, and says so when there is no rollout', () => {
    expect(renderStatus(statusAnswer(objs, {})).split('\n')).toEqual([
      'NAMESPACE  MAPPING  PHASE        ROLLING  HEALTHY  WAITING  FAILED  REASON',
      'shop       api      Rolling 2/5  1        1        2        1       -',
      'web        web      Halted       1        1        2        1       CanaryUnhealthy: canary Deployment/a is not healthy',
    ]);
    expect(renderStatus(statusAnswer(objs, { mapping: 'idle' }))).toBe('No rollout recorded.');
  });
});
