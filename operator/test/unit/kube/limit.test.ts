import * as k8s from '@kubernetes/client-node';
import { Limiter, REQUEST_METHOD, withLimit } from '../../../src/kube/limit';

const tick = () => new Promise((r) => setImmediate(r));

describe('Limiter', () => {
  it('refuses a limit below one', () => {
    expect(() => new Limiter(0)).toThrow('limit must be a positive integer, got 0');
    expect(() => new Limiter(1.5)).toThrow(RangeError);
  });

  it('runs at most `limit` at once, the rest in arrival order, and returns each result', async () => {
    const l = new Limiter(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const job = (i: number) =>
      l.run(async () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        await tick();
        await tick();
        active--;
        return i * 10;
      });
    const results = await Promise.all([0, 1, 2, 3, 4, 5, 6].map(job));
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak).toBe(2);
    expect(l.inFlight).toBe(0);
  });

  it('a failing call frees its slot and its error reaches the caller', async () => {
    const l = new Limiter(1);
    const failed = l.run(async () => {
      throw new Error('boom');
    });
    const next = l.run(async () => 'after');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
    expect(l.inFlight).toBe(0);
  });
});

describe('withLimit', () => {
  class FakeApi {
    configured = false;
    constructor(readonly load = { active: 0, peak: 0 }) {}
    addInterceptor(): void {
      this.configured = true;
    }
    async listNamespacedDeployment(ns: string): Promise<string> {
      return this.call(`list ${ns}`);
    }
    async patchNamespacedDeployment(name: string): Promise<string> {
      return this.call(`patch ${name}`);
    }
    async getNamespacedCustomObject(name: string): Promise<string> {
      return this.call(`get ${name}`);
    }
    private async call(what: string): Promise<string> {
      this.load.active++;
      this.load.peak = Math.max(this.load.peak, this.load.active);
      await tick();
      this.load.active--;
      return what;
    }
  }

  it('bounds the request methods of a client, with `this` intact; other methods pass through', async () => {
    const raw = new FakeApi();
    const api = withLimit(raw, new Limiter(2));
    api.addInterceptor();
    expect(raw.configured).toBe(true);
    const out = await Promise.all([api.listNamespacedDeployment('a'), api.patchNamespacedDeployment('x'), api.listNamespacedDeployment('b'), api.patchNamespacedDeployment('y')]);
    expect(out).toEqual(['list a', 'patch x', 'list b', 'patch y']);
    expect(raw.load.peak).toBe(2);
  });

  it('one limiter shared by two clients bounds them together', async () => {
    const load = { active: 0, peak: 0 };
    const limiter = new Limiter(3);
    const a = withLimit(new FakeApi(load), limiter);
    const b = withLimit(new FakeApi(load), limiter);
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).listNamespacedDeployment(String(i))));
    expect(load.peak).toBe(3);
  });

  it('bounds reads named get… too (CustomObjectsApi reads an object with getNamespacedCustomObject: the ESO status polls)', async () => {
    const raw = new FakeApi();
    const api = withLimit(raw, new Limiter(2));
    await Promise.all(Array.from({ length: 10 }, (_, i) => api.getNamespacedCustomObject(String(i))));
    expect(raw.load.peak).toBe(2);
  });

  it.each([k8s.CustomObjectsApi, k8s.CoreV1Api, k8s.AppsV1Api, k8s.CoordinationV1Api])('takes every request method of %p as one (only configuration methods pass through)', (Api) => {
    const configuration = new Set(['constructor', 'setDefaultAuthentication', 'setApiKey', 'addInterceptor']);
    const methods = Object.getOwnPropertyNames(Api.prototype).filter((n) => !configuration.has(n) && typeof Object.getOwnPropertyDescriptor(Api.prototype, n)?.value === 'function');
    expect(methods.length).toBeGreaterThan(3);
    expect(methods.filter((n) => !REQUEST_METHOD.test(n))).toEqual([]);
  });
});
