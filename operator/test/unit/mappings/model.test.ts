import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { normaliseMapping, selectorToQuery, WORKLOAD_RESULTS, type SecretsRotationMapping } from '../../../src/mappings/model';
import { APPS_KINDS, WORKLOAD_KINDS, servedKinds } from '../../../src/workloads/workload';
import { MAX_RECORDED_WORKLOADS } from '../../../src/rotation/summary';

const meta = { name: 'm', namespace: 'team-a', uid: 'u1', generation: 3 };
const make = (spec: unknown): SecretsRotationMapping => ({ metadata: meta, spec: spec as SecretsRotationMapping['spec'] });
const errorsOf = (spec: unknown) => {
  const n = normaliseMapping(make(spec));
  if (n.ok) throw new Error('expected validation errors');
  return n.errors;
};

describe('normaliseMapping', () => {
  it('normalises the v1 form', () => {
    const n = normaliseMapping(make({ secretId: 'app', selector: { matchLabels: { app: 'web' } }, workloadKinds: ['StatefulSet', 'Deployment'] }));
    expect(n).toEqual({
      ok: true,
      mapping: expect.objectContaining({ key: 'team-a/m', namespace: 'team-a', name: 'm', uid: 'u1', generation: 3, selector: { matchLabels: { app: 'web' } }, workloadKinds: ['Deployment', 'StatefulSet'] }),
    });
  });

  it('accepts the proof of concept manifest (SecretID, Labels) unchanged', () => {
    const n = normaliseMapping(make({ SecretID: 'eks-controller-test-secret', Labels: { environment: 'operatortest' } }));
    if (!n.ok) throw new Error(JSON.stringify(n.errors));
    expect(n.mapping.secret.raw).toBe('eks-controller-test-secret');
    expect(n.mapping.selector).toEqual({ matchLabels: { environment: 'operatortest' } });
    expect(n.mapping.workloadKinds).toEqual(APPS_KINDS);
  });

  describe('Argo Rollouts', () => {
    const spec = { secretId: 's', selector: { matchLabels: { a: 'b' } } };

    it('a mapping without workloadKinds means every kind the operator serves: Rollout too once its support is on', () => {
      const off = normaliseMapping(make(spec));
      const on = normaliseMapping(make(spec), servedKinds(true));
      expect(off.ok && off.mapping.workloadKinds).toEqual(['Deployment', 'StatefulSet', 'DaemonSet']);
      expect(on.ok && on.mapping.workloadKinds).toEqual(WORKLOAD_KINDS);
    });

    it('accepts a mapping naming Rollout when the support is on', () => {
      const n = normaliseMapping(make({ ...spec, workloadKinds: ['Rollout', 'Deployment'] }), servedKinds(true));
      expect(n.ok && n.mapping.workloadKinds).toEqual(['Deployment', 'Rollout']);
    });

    it("refuses a mapping naming Rollout when the support is off, saying how to turn it on (its Deployments too: the status says why)", () => {
      expect(errorsOf({ ...spec, workloadKinds: ['Deployment', 'Rollout'] })).toEqual([
        { field: 'spec.workloadKinds', message: 'Rollout is not served by this operator: its Argo Rollouts support is off (chart value argoRollouts.enabled, ARGO_ROLLOUTS_ENABLED)' },
      ]);
    });
  });

  it('the PoC and v1 forms normalise to the same mapping', () => {
    const a = normaliseMapping(make({ SecretID: 's', Labels: { a: 'b' } }));
    const b = normaliseMapping(make({ secretId: 's', selector: { matchLabels: { a: 'b' } } }));
    expect(a).toEqual(b);
  });

  it.each([
    [{ selector: { matchLabels: { a: 'b' } } }, 'spec.secretId', /required/],
    [{ secretId: 's', SecretID: 's', selector: { matchLabels: { a: 'b' } } }, 'spec.secretId', /not both/],
    [{ secretId: 'bad id', selector: { matchLabels: { a: 'b' } } }, 'spec.secretId', /name or ARN/],
    [{ SecretID: 'arn:aws:s3:::x', Labels: { a: 'b' } }, 'spec.SecretID', /name or ARN/],
    [{ secretId: 's' }, 'spec.selector', /required/],
    [{ secretId: 's', selector: { matchLabels: { a: 'b' } }, Labels: { a: 'b' } }, 'spec.selector', /not both/],
    [{ secretId: 's', selector: {} }, 'spec.selector', /must not be empty/],
    [{ secretId: 's', Labels: {} }, 'spec.Labels', /must not be empty/],
    [{ secretId: 's', selector: { matchLabels: { a: 'not valid!' } } }, 'spec.selector.matchLabels.a', /label value/],
    [{ secretId: 's', selector: { matchLabels: { 'bad key!': 'x' } } }, 'spec.selector.matchLabels', /label key/],
    [{ secretId: 's', selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, 'spec.selector.matchExpressions[0].values', /must not be empty/],
    [{ secretId: 's', selector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }, 'spec.selector.matchExpressions[0].values', /must be empty/],
    [{ secretId: 's', selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }, 'spec.selector.matchExpressions[0].operator', /one of/],
    [{ secretId: 's', selector: { matchLabels: { a: 'b' } }, workloadKinds: [] }, 'spec.workloadKinds', /non-empty/],
    [{ secretId: 's', selector: { matchLabels: { a: 'b' } }, workloadKinds: ['CronJob'] }, 'spec.workloadKinds', /CronJob/],
  ])('refuses %j naming %s', (spec, field, message) => {
    const errors = errorsOf(spec);
    expect(errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('refuses a missing spec', () => expect(normaliseMapping({ metadata: meta })).toEqual({ ok: false, key: 'team-a/m', errors: [{ field: 'spec', message: 'is required' }] }));
});

describe('selectors', () => {
  const selector = {
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In' as const, values: ['a', 'b'] },
      { key: 'env', operator: 'NotIn' as const, values: ['dev'] },
      { key: 'team', operator: 'Exists' as const },
      { key: 'legacy', operator: 'DoesNotExist' as const },
    ],
  };

  it('renders the API server query syntax', () => expect(selectorToQuery(selector)).toBe('app=web,tier in (a,b),env notin (dev),team,!legacy'));
});

describe('the CRD and the model agree', () => {
  const crd = load(readFileSync(join(__dirname, '../../../../charts/secrets-rotation-operator/files/crds/secretsrotationmappings.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { status: { properties: { lastRotation: { properties: { workloads: { maxItems: number; items: { properties: { result: { enum: string[] } } } } } } } } } } } }[] };
  };
  const workloads = crd.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.lastRotation.properties.workloads;

  it('every workload result the operator writes is one the API server accepts, and no other', () => {
    expect(workloads.items.properties.result.enum).toEqual([...WORKLOAD_RESULTS]);
  });

  it('the status lists no more workloads than the CRD allows', () => {
    expect(workloads.maxItems).toBe(MAX_RECORDED_WORKLOADS);
  });
});
