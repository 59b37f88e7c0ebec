/**
 * The local stack's API, for jest globalSetup/globalTeardown, e2e and fault-injection
 * tests: bring the stack up and down, read its environment, stop/start/pause one
 * component.
 */
export { AWS_REGION, COMPONENTS, ComponentError, SERVICE_ACCOUNT_ISSUER, readStackEnv, readStackState } from './state';
export type { ComponentName, ComponentRecord, StackEnv, StackState } from './state';
export { stackDown, stackHealth, stackUp } from './lifecycle';
export type { StackDownOptions, StackHealth, StackUpOptions } from './lifecycle';
export { pauseComponent, restartComponent, resumeComponent, startComponent, stopComponent, waitForComponent } from './control';
export type { StartComponentOptions, StopComponentOptions } from './control';
export { REPO_ROOT, readVersions, resolveToolchain, stackDir, stackPaths } from './paths';
export type { ResolveToolchainOptions, StackPaths, ToolFamily, ToolchainPaths } from './paths';
export { renderKubeconfig, writeKubeconfig } from './kubeconfig';
export type { KubeconfigOptions } from './kubeconfig';
export { deployAwsPrerequisites } from './aws';
export { BRIDGE, BRIDGE_IP, REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from './realnode';
export type { HostBefore } from './realnode';
export type { AwsPrerequisites } from './aws';
