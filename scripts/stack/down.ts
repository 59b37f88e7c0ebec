/** npm run stack:down — stop every process of the local stack and remove its state (logs are kept). */
import '../quiet-sdk-warning';
import { stackDown } from './lifecycle';

const keepLogs = !process.argv.includes('--remove-logs');
stackDown({ keepLogs }).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`[stack] stack:down failed: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);
