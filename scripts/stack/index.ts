/**
 * The local stack's API, for jest globalSetup/globalTeardown, e2e and fault-injection
 * tests: bring the stack up and down, read its environment, stop/start/pause one
 * component.
 */
export {
  AWS_REGION,
  COMPONENTS,
  ComponentError,
  SERVICE_ACCOUNT_ISSUER,
  importImageToRealNode,
  pauseComponent,
  readStackEnv,
  readStackState,
  restartComponent,
  resumeComponent,
  stackDown,
  stackHealth,
  stackUp,
  startComponent,
  stopComponent,
  waitForComponent,
} from './stack';
export type { ComponentName, ComponentRecord, StackDownOptions, StackEnv, StackHealth, StackState, StackUpOptions, StartComponentOptions, StopComponentOptions } from './stack';
export { REPO_ROOT, readVersions, resolveToolchain, stackDir, stackPaths } from './paths';
export type { ResolveToolchainOptions, StackPaths, ToolFamily, ToolchainPaths } from './paths';
export { renderKubeconfig, writeKubeconfig } from './kubeconfig';
export type { KubeconfigOptions } from './kubeconfig';
export { deployAwsPrerequisites } from './aws';
export { BRIDGE, BRIDGE_IP, REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from './realnode';
export type { HostBefore } from './realnode';
export type { AwsPrerequisites } from './aws';
