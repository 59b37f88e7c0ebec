/**
 * Asks Secrets Manager which version of a secret is AWSCURRENT, and its exact
 * ARN and name: DescribeSecret for one secret, ListSecrets for many (drift). Metadata
 * only: the operator never reads a secret value.
 */
import { DescribeSecretCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PAGE_SIZE_MAX } from './listing';
import { AWSCURRENT } from './stages';
import type { VersionRead } from './versionOrder';

/** What a read says of a secret; its versions and LastChangedDate order it against a recorded version (versionOrder.ts). */
export interface SecretDescription extends VersionRead {
  readonly arn: string;
  readonly name: string;
  /** Undefined for a secret without any AWSCURRENT version (e.g. just created, no value). */
  readonly currentVersion?: string;
}

export interface SecretDescriber {
  describe(secretId: string, signal?: AbortSignal): Promise<SecretDescription>;
}

export interface SecretLister {
  /** One ListSecrets page of the secrets whose names start with one of `names` (every secret when undefined). */
  listPage(names: readonly string[] | undefined, nextToken: string | undefined, signal?: AbortSignal): Promise<{ secrets: SecretDescription[]; nextToken?: string }>;
}

/** Picks the version labelled AWSCURRENT out of DescribeSecret's VersionIdsToStages (ListSecrets: SecretVersionsToStages). */
export function currentVersionOf(versionIdsToStages: Record<string, string[] | undefined> | undefined): string | undefined {
  return Object.entries(versionIdsToStages ?? {}).find(([, stages]) => stages?.includes(AWSCURRENT))?.[0];
}

function description(arn: string, name: string, versionsToStages: Record<string, string[] | undefined> | undefined, lastChanged: Date | undefined): SecretDescription {
  const currentVersion = currentVersionOf(versionsToStages);
  const versions = Object.fromEntries(Object.entries(versionsToStages ?? {}).map(([v, stages]) => [v, stages ?? []]));
  return { arn, name, ...(currentVersion ? { currentVersion } : {}), versions, ...(lastChanged ? { lastChanged: lastChanged.toISOString() } : {}) };
}

export class AwsSecretDescriber implements SecretDescriber, SecretLister {
  constructor(private readonly client: SecretsManagerClient) {}

  async describe(secretId: string, signal?: AbortSignal): Promise<SecretDescription> {
    const out = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }), { abortSignal: signal });
    if (!out.ARN || !out.Name) throw new Error(`DescribeSecret returned no ARN/Name for ${secretId}`);
    return description(out.ARN, out.Name, out.VersionIdsToStages, out.LastChangedDate);
  }

  /**
   * Secrets scheduled for deletion are listed too, as DescribeSecret describes them: their
   * versions no longer change, and a listing that holds every secret DescribeSecret could
   * return resolves an ambiguous ARN as DescribeSecret would (secrets/listing.ts).
   */
  async listPage(names: readonly string[] | undefined, nextToken: string | undefined, signal?: AbortSignal): Promise<{ secrets: SecretDescription[]; nextToken?: string }> {
    const out = await this.client.send(
      new ListSecretsCommand({
        MaxResults: PAGE_SIZE_MAX,
        IncludePlannedDeletion: true,
        ...(names ? { Filters: [{ Key: 'name', Values: [...names] }] } : {}),
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
      { abortSignal: signal },
    );
    const secrets = (out.SecretList ?? []).flatMap((e) => (e.ARN && e.Name ? [description(e.ARN, e.Name, e.SecretVersionsToStages, e.LastChangedDate)] : []));
    return { secrets, ...(out.NextToken ? { nextToken: out.NextToken } : {}) };
  }
}
