/** Shared with the demo, so it lives in the kit: scripts/kit/eso.ts. */
export * from '../../scripts/kit/eso';
