/** What SQS accepts for a receive: config.ts checks the settings against these, the consumer its options. */
export const SQS_LIMITS = {
  /** MaxNumberOfMessages of one ReceiveMessage. */
  maxMessages: { min: 1, max: 10 },
  /** WaitTimeSeconds of a long poll. */
  waitTimeSeconds: { min: 0, max: 20 },
  /** VisibilityTimeout: up to 12 hours. */
  visibilityTimeoutSeconds: { min: 0, max: 43_200 },
} as const;
