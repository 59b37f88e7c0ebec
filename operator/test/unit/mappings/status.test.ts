import { statusIsCurrent } from '../../../src/mappings/status';
import type { SecretsRotationMapping } from '../../../src/mappings/model';

const ready = (status: 'True' | 'False', observedGeneration = 2) => ({ type: 'Ready', status, reason: 'x', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration });
const obj = (status?: SecretsRotationMapping['status']): Pick<SecretsRotationMapping, 'metadata' | 'status'> => ({ metadata: { name: 'm', namespace: 'ns', generation: 2 }, ...(status ? { status } : {}) });

describe('statusIsCurrent (whether a reconcile would write anything)', () => {
  it.each([
    ['no status yet', obj(), false],
    ['an older generation observed', obj({ observedGeneration: 1, conditions: [ready('True', 1)], appliedVersion: 'v1' }), false],
    ['Ready decided for an older generation', obj({ observedGeneration: 2, conditions: [ready('True', 1)], appliedVersion: 'v1' }), false],
    ['no Ready condition', obj({ observedGeneration: 2, conditions: [], appliedVersion: 'v1' }), false],
    ['Ready without a baseline version (DescribeSecret failed)', obj({ observedGeneration: 2, conditions: [ready('True')] }), false],
    ['Ready with a baseline', obj({ observedGeneration: 2, conditions: [ready('True')], appliedVersion: 'v1' }), true],
    ['refused as invalid for this generation', obj({ observedGeneration: 2, conditions: [ready('False')] }), true],
  ])('%s → %s', (_what, o, current) => {
    expect(statusIsCurrent(o)).toBe(current);
  });

  it('a mapping that is gone needs nothing', () => {
    expect(statusIsCurrent(undefined)).toBe(true);
  });
});
