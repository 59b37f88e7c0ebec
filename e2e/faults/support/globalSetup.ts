/**
 * globalSetup of the faults project: the e2e one (build dist/, bring the stack up
 * unless it is up) and an empty report file for this run.
 */
import e2eGlobalSetup from '../../support/globalSetup';
import { resetReport } from './report';

export default async function globalSetup(): Promise<void> {
  await e2eGlobalSetup();
  resetReport();
}
