/** The tests wait with the kit's waitFor (one home: scripts/kit/wait.ts). */
export { staysFalse, TimeoutError, waitFor } from '../../scripts/kit/wait';
