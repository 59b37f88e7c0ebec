/** Shared with the demo, so it lives in the kit: scripts/kit/chart.ts. */
export * from '../../scripts/kit/chart';
