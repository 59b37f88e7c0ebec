/** npm run stack:up — bring the local stack up (idempotent); writes .stack/env. */
import '../quiet-sdk-warning';
import { stackUp } from './lifecycle';
import { ComponentError } from './state';

stackUp().then(
  () => process.exit(0),
  (e: unknown) => {
    // A ComponentError's message starts with the component's name; its log tail was printed above.
    const what = e instanceof ComponentError ? e.message : String((e as Error)?.stack ?? e);
    process.stderr.write(`[stack] stack:up failed: ${what}\n`);
    process.exit(1);
  },
);
