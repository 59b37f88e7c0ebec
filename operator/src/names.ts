/** The operator's own names, each said once. */

/** The operator's name: field manager, Event source, log component, Lease name, metric prefix. */
export const OPERATOR_NAME = 'secrets-rotation-operator';
/** The SecretsRotationMapping API group; also the prefix of the annotations the operator writes. */
export const GROUP = 'awssecretsoperator.secretoperator';
