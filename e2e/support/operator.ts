/** Shared with the demo, so it lives in the kit: scripts/kit/operator.ts. */
export * from '../../scripts/kit/operator';
