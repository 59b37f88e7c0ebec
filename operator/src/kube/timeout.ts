/** Default deadline for one call to the API server. */
export const K8S_TIMEOUT_MS = 30_000;

/** Every call to the API server gets a deadline: a hung connection must not stall a loop. */
export function withTimeout<T extends { addInterceptor(i: (o: { timeout?: number }) => void): void }>(api: T, ms = K8S_TIMEOUT_MS): T {
  api.addInterceptor((opts) => {
    opts.timeout = ms;
  });
  return api;
}
