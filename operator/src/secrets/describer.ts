/**
 * Asks Secrets Manager which version of a secret is AWSCURRENT, and its exact
 * ARN and name. Uses DescribeSecret only: the operator never reads a secret value.
 */
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AWSCURRENT } from './stages';

export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  /** Undefined for a secret without any AWSCURRENT version (e.g. just created, no value). */
  readonly currentVersion?: string;
}

export interface SecretDescriber {
  describe(secretId: string): Promise<SecretDescription>;
}

/** Picks the version labelled AWSCURRENT out of DescribeSecret's VersionIdsToStages. */
export function currentVersionOf(versionIdsToStages: Record<string, string[] | undefined> | undefined): string | undefined {
  return Object.entries(versionIdsToStages ?? {}).find(([, stages]) => stages?.includes(AWSCURRENT))?.[0];
}

export class AwsSecretDescriber implements SecretDescriber {
  constructor(private readonly client: SecretsManagerClient) {}

  async describe(secretId: string): Promise<SecretDescription> {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (!out.ARN || !out.Name) throw new Error(`DescribeSecret returned no ARN/Name for ${secretId}`);
    const currentVersion = currentVersionOf(out.VersionIdsToStages);
    return { arn: out.ARN, name: out.Name, ...(currentVersion ? { currentVersion } : {}) };
  }
}
