/** Secrets Manager's staging label for the version readers get: what restarted pods will read. */
export const AWSCURRENT = 'AWSCURRENT';
/** The label Secrets Manager moves, by itself, to the version AWSCURRENT was taken from. */
export const AWSPREVIOUS = 'AWSPREVIOUS';
/** A rotation's new version before it becomes current (the rotation Lambda's createSecret). */
export const AWSPENDING = 'AWSPENDING';
