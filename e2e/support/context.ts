/** Shared with the demo, so it lives in the kit: scripts/kit/context.ts. */
export * from '../../scripts/kit/context';
