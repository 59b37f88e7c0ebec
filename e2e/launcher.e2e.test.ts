/**
 * The one operator launcher (scripts/kit/operator.ts) on the built operator: here, not in
 * the unit project, because it runs dist/main.js, which e2e's globalSetup builds and a
 * clean clone's unit run does not have.
 */
import { OperatorProcess } from '../scripts/kit/operator';

describe('OperatorProcess (dist/main.js)', () => {
  it('fails its readiness wait as soon as the operator exits, with its last lines', async () => {
    // No SQS_QUEUE_URL: the operator refuses its configuration and exits at once.
    const started = Date.now();
    const op = await OperatorProcess.start({}, { waitReady: false });
    await expect(op.waitReady(20_000)).rejects.toThrow(/^operator exited \(2\): configuration error: SQS_QUEUE_URL is required/);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});
