import type { SecretDescriber, SecretDescription } from '../../../src/secrets/describer';
import { RecentDescriptions } from '../../../src/secrets/recent';

/** A describer that counts calls and answers version `v<n>` on the n-th call for an id. */
function counting(fail: Set<string> = new Set()): SecretDescriber & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async describe(id: string): Promise<SecretDescription> {
      calls.push(id);
      if (fail.has(id)) throw new Error(`denied: ${id}`);
      return { arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${id}-AbCdEf`, name: id, currentVersion: `v${calls.filter((c) => c === id).length}` };
    },
  };
}

describe('RecentDescriptions', () => {
  it('makes one call for concurrent and recent asks of one secret, and one per secret', async () => {
    const inner = counting();
    let t = 1_000;
    const d = new RecentDescriptions(inner, 30_000, () => t);
    const [a, b] = await Promise.all([d.describe('db'), d.describe('db')]);
    t += 29_999;
    const c = await d.describe('db');
    await d.describe('api');
    expect([a.currentVersion, b.currentVersion, c.currentVersion]).toEqual(['v1', 'v1', 'v1']);
    expect(inner.calls).toEqual(['db', 'api']);
  });

  it('asks again once a description is older than maxAgeMs', async () => {
    const inner = counting();
    let t = 0;
    const d = new RecentDescriptions(inner, 30_000, () => t);
    await d.describe('db');
    t = 30_001;
    expect((await d.describe('db')).currentVersion).toBe('v2');
    expect(inner.calls).toEqual(['db', 'db']);
  });

  it('does not keep a failure: the next ask calls again', async () => {
    const failing = new Set(['db']);
    const inner = counting(failing);
    const d = new RecentDescriptions(inner, 30_000, () => 0);
    await expect(d.describe('db')).rejects.toThrow('denied: db');
    failing.clear();
    expect((await d.describe('db')).currentVersion).toBe('v2');
  });

  it('forgets old entries as time passes (bounded by what was asked within maxAgeMs)', async () => {
    const inner = counting();
    let t = 0;
    const d = new RecentDescriptions(inner, 10, () => t);
    for (let i = 0; i < 100; i++) {
      t = i * 5;
      await d.describe(`s${i}`);
    }
    expect((d as unknown as { recent: { size: number } }).recent.size).toBeLessThanOrEqual(3);
  });
});
