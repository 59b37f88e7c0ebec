/**
 * What a mapping discovery found carries beyond a mapping's fields: where it came from.
 * Facts only (no imports): mappings/model.ts holds an Origin, discovery/model.ts makes it.
 */

/** Where a rotation comes from: a SecretsRotationMapping, or what discovery found. */
export const ROTATION_SOURCES = ['mapping', 'externalsecret', 'csi'] as const;
export type RotationSource = (typeof ROTATION_SOURCES)[number];
export type DiscoverySource = Exclude<RotationSource, 'mapping'>;

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type Refreshability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What a discovered mapping carries beyond a mapping's fields. */
export interface Origin {
  readonly source: DiscoverySource;
  readonly object: ObjectRef;
  /** What a consuming pod template names: the ExternalSecret's target Secret, or the SecretProviderClass. */
  readonly consumedAs: { readonly secret: string } | { readonly providerClass: string };
  /** ExternalSecret only: whether ESO syncs when asked (force-sync), and if not, why. */
  readonly refresh?: Refreshability;
}

