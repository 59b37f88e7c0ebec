/** Shared with the demo, so it lives in the kit: scripts/kit/realnode.ts. */
export * from '../../scripts/kit/realnode';
