/**
 * The layer order of operator/src, as data: which unit may import which. A unit is a
 * folder of operator/src, or a named set of root files. layers.test.ts checks every
 * import against it; change this table (and docs/architecture.md's) when a layer moves.
 *
 * Bottom to top:
 *   floor      core/: what every layer speaks (json, names, log, metrics, ...)
 *   kube, secrets, http                 each only the floor
 *   events, workloads, leader           + one of the above
 *   mappings                            the CR model, its ports, index, watcher, status
 *   discovery                           ExternalSecrets / SecretProviderClasses as mappings
 *   rollout                             pure: restart windows and the rollout engine's decisions
 *   rotation                            plan and execute restarts
 *   sqs, notify                         the queue in front of the rotation (intake: interpret, admit,
 *                                       dispositions); webhooks after it
 *   top        main.ts and what it wires from (config, version, node flags, lifecycle)
 *   cli        the srm / kubectl srm command: what main.ts may import, and top itself; nothing imports it
 */

/** Root files (operator/src/*.ts): only the top. A root file not listed here fails the test. */
export const ROOT_FILES: Readonly<Record<string, 'top'>> = {
  'main.ts': 'top',
  'lifecycle.ts': 'top',
  'config.ts': 'top',
  'version.ts': 'top',
  'nodeFlags.ts': 'top',
};

/** Folders of operator/src that belong to the floor. */
export const FLOOR_FOLDERS: readonly string[] = ['core'];

/** unit → the units it may import (besides itself). Must be acyclic. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  floor: [],
  kube: ['floor'],
  secrets: ['floor'],
  http: ['floor'],
  events: ['floor', 'secrets'],
  workloads: ['floor', 'kube'],
  leader: ['floor', 'kube'],
  mappings: ['floor', 'kube', 'secrets', 'workloads', 'leader'],
  discovery: ['floor', 'kube', 'secrets', 'workloads', 'mappings'],
  rollout: ['floor', 'mappings'],
  rotation: ['floor', 'kube', 'secrets', 'events', 'workloads', 'leader', 'mappings', 'discovery', 'rollout'],
  sqs: ['floor', 'events', 'leader', 'rotation'],
  notify: ['floor', 'leader', 'mappings', 'rotation'],
  top: ['floor', 'kube', 'secrets', 'http', 'events', 'workloads', 'leader', 'mappings', 'discovery', 'rollout', 'rotation', 'sqs', 'notify'],
  cli: ['floor', 'kube', 'secrets', 'http', 'events', 'workloads', 'leader', 'mappings', 'discovery', 'rollout', 'rotation', 'sqs', 'notify', 'top'],
};

/** Test code: nothing outside it may import it. Paths from the repository root. */
export const TEST_CODE: readonly string[] = ['operator/test/', 'e2e/'];

/**
 * Code that is not test code and so must not import it: the product and the product's
 * tooling (setup, chart docs, manifest, the local stack, the demo). No exception.
 */
export const NON_TEST_CODE: readonly string[] = ['operator/src/', 'scripts/'];

/**
 * The local-stack kit: what the demo and the tests share (waitFor, freePort,
 * forEachLimit, the AWS and kube clients, the chart, the operator launcher, ESO, the
 * real node's images). It is not test code, so the demo may use it; e2e/support
 * re-exports or imports it.
 */
export const KIT = 'scripts/kit/';
