/** Secrets Manager's staging label for the version readers get: what restarted pods will read. */
export const AWSCURRENT = 'AWSCURRENT';
