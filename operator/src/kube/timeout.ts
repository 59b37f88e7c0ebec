/** Default deadline for one call to the API server. */
export const K8S_TIMEOUT_MS = 30_000;

/** A client-node API class, as far as its request options are set here (timeout) and in kube/connections.ts (agent). */
export interface KubeApi {
  addInterceptor(i: (o: { timeout?: number; agent?: unknown }) => void): void;
}

/** Every call to the API server gets a deadline: a hung connection must not stall a loop. */
export function withTimeout<T extends KubeApi>(api: T, ms = K8S_TIMEOUT_MS): T {
  api.addInterceptor((opts) => {
    opts.timeout = ms;
  });
  return api;
}
