/** Shared with the demo, so it lives in the kit: scripts/kit/crds.ts. */
export * from '../../scripts/kit/crds';
