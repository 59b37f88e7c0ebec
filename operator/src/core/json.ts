/** Reading parsed JSON (API objects as `unknown`) without trusting its shape. Pure. */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
/** The object, or an empty one for anything else. */
export function rec(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}
/** The array, or an empty one for anything else. */
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
/** A non-empty string, else undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
/** A finite number, else undefined. */
export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * A JSON merge patch (RFC 7386) applied as the API server applies one: objects merge key
 * by key, a null removes the key, anything else (an array too) replaces. Pure.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = { ...rec(target) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
