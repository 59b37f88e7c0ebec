/** globalTeardown of the faults project: prints the report table, then the e2e teardown. */
import e2eGlobalTeardown from '../../support/globalTeardown';
import { printReport } from './report';

export default async function globalTeardown(): Promise<void> {
  printReport();
  await e2eGlobalTeardown();
}
