/** Shared with the demo, so it lives in the kit: scripts/kit/canary.ts. */
export * from '../../scripts/kit/canary';
