/** Stops the stack if globalSetup started it; a stack someone else started stays up. */
import { stackDown } from '../../scripts/stack';

export default async function globalTeardown(): Promise<void> {
  if (process.env.E2E_STARTED_STACK === '1') await stackDown();
}
