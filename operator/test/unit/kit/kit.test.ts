/** The local-stack kit's shared helpers: one waitFor, one freePort, one forEachLimit. */
import net from 'node:net';
import fc from 'fast-check';
import { forEachLimit } from '../../../../scripts/kit/limit';
import { freePorts } from '../../../../scripts/kit/net';
import { AbortPoll, TimeoutError, waitFor } from '../../../../scripts/kit/wait';

describe('waitFor', () => {
  it('returns the first value other than undefined/false', async () => {
    let calls = 0;
    await expect(waitFor('the third call', () => (++calls === 3 ? 0 : false), { timeoutMs: 5_000, intervalMs: 1 })).resolves.toBe(0);
    expect(calls).toBe(3);
  });

  it('times out naming what it waited for and the last attempt\'s error', async () => {
    const failing = waitFor('x', () => {
      throw new Error('connection refused');
    }, { timeoutMs: 30, intervalMs: 5 });
    await expect(failing).rejects.toThrow(TimeoutError);
    await expect(failing).rejects.toThrow('timed out after 30 ms waiting for x: connection refused');
  });

  it('does not blame an error the probe has since got past', async () => {
    let calls = 0;
    const wait = waitFor('y', () => {
      if (++calls === 1) throw new Error('stale');
      return false;
    }, { timeoutMs: 30, intervalMs: 5 });
    await expect(wait).rejects.toThrow(/^timed out after 30 ms waiting for y$/);
  });

  it('stops at once, with the reason, when the probe throws AbortPoll', async () => {
    let calls = 0;
    const started = Date.now();
    const wait = waitFor('z', () => {
      calls++;
      throw new AbortPoll(new Error('the process exited'));
    }, { timeoutMs: 5_000, intervalMs: 5 });
    await expect(wait).rejects.toThrow('the process exited');
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('freePorts', () => {
  it('hands out distinct ports one can listen on', async () => {
    const ports = await freePorts(4);
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('forEachLimit', () => {
  it('runs every item once with its index, never more than `limit` at a time, and starts the next as soon as one ends', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), async (delays, limit) => {
        let inFlight = 0;
        let most = 0;
        const seen: number[] = [];
        // Busy slots over time: with a sliding window every slot stays busy while items remain.
        const idleWhileWaiting: number[] = [];
        await forEachLimit(delays, limit, async (ms, i) => {
          most = Math.max(most, ++inFlight);
          seen.push(i);
          await new Promise((r) => setTimeout(r, ms));
          inFlight--;
          if (seen.length < delays.length && inFlight < Math.min(limit, delays.length) - 1) idleWhileWaiting.push(i);
        });
        expect(seen.sort((a, b) => a - b)).toEqual(delays.map((_, i) => i));
        expect(most).toBeLessThanOrEqual(limit);
        expect(idleWhileWaiting).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('reports progress after each item', async () => {
    const said: string[] = [];
    await forEachLimit(['a', 'b', 'c'], 2, async () => undefined, (done, total) => said.push(`${done}/${total}`));
    expect(said).toEqual(['1/3', '2/3', '3/3']);
  });

  it('rejects with the first failure', async () => {
    await expect(forEachLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('item 2 failed');
    })).rejects.toThrow('item 2 failed');
  });
});
