/** The operator's own names, each said once. */

/** The operator's name: field manager, Event source, log component, Lease name, metric prefix. */
export const OPERATOR_NAME = 'secrets-rotation-operator';
/** The SecretsRotationMapping API group; also the prefix of the annotations the operator writes. */
export const GROUP = 'awssecretsoperator.secretoperator';
/**
 * The Namespace annotation listing the secret name prefixes a namespace may map
 * (comma-separated). Read by the chart's admission policy (admissionPolicies.secretPrefixes),
 * not by the operator; said here so the chart's copy is checked against it.
 */
export const ALLOWED_SECRET_PREFIXES_ANNOTATION = `${GROUP}/allowed-secret-prefixes`;
/**
 * On an ExternalSecret or SecretProviderClass discovery found: its rollout's record (the
 * JSON a mapping keeps in status.rollout), since a source has no status of ours. Said here
 * so the chart's admission policy, which lets the operator write it, is checked against it.
 */
export const SOURCE_ROLLOUT_ANNOTATION = `${GROUP}/rollout`;
