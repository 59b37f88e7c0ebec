/** npm run stack:up — bring the local stack up (idempotent); writes .stack/env. */
import { ComponentError, stackUp } from './stack';

stackUp().then(
  () => process.exit(0),
  (e: unknown) => {
    const what = e instanceof ComponentError ? `component ${e.component} failed: ${e.message}` : String((e as Error)?.stack ?? e);
    process.stderr.write(`[stack] stack:up failed: ${what}\n`);
    process.exit(1);
  },
);
