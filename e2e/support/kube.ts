/** Shared with the demo, so it lives in the kit: scripts/kit/kube.ts. */
export * from '../../scripts/kit/kube';
