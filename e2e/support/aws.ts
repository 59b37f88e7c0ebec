/** Shared with the demo, so it lives in the kit: scripts/kit/aws.ts. */
export * from '../../scripts/kit/aws';
