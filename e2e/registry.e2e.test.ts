/**
 * The stack's OCI registry (scripts/stack/registry.ts) as helm meets it: the globalSetup
 * pushed this tree's chart with `helm package` + `helm push`; it is there at the release
 * version, it is the chart of this tree (annotations included), and helm trusts the
 * registry only through the stack's CA. The images' side (the real node pulls them
 * from here, by digest) is asserted in fingerprint.e2e.test.ts.
 */
import fs from 'node:fs';
import { load } from 'js-yaml';
import { CHART_NAME } from '../scripts/stack/paths';
import { readPublished } from '../scripts/stack/publish';
import { CHART_REPOSITORY, registryTags } from '../scripts/stack/registry';
import { CHART_YAML, releaseVersion } from '../scripts/version';
import { chartSource, helm } from './support/chart';
import { e2eContext } from './support/context';

jest.setTimeout(120_000);

const ctx = e2eContext();
const env = ctx.env as typeof ctx.env & { STACK_REGISTRY: string; STACK_REGISTRY_CA_FILE: string };

describe("the chart in the stack's registry", () => {
  test('is there at the release version, as the globalSetup recorded it', async () => {
    const pub = readPublished();
    expect(pub.version).toBe(releaseVersion());
    expect(pub.chart.ref).toBe(`oci://${env.STACK_REGISTRY}/${CHART_REPOSITORY}/${CHART_NAME}`);
    expect(await registryTags(env, `${CHART_REPOSITORY}/${CHART_NAME}`)).toContain(releaseVersion());
  });

  test("is this tree's chart: helm show chart oci://… gives Chart.yaml, Artifact Hub annotations included", async () => {
    const shown = load((await helm(ctx, ['show', 'chart', ...chartSource(ctx)])).stdout) as Record<string, unknown>;
    const local = load(fs.readFileSync(CHART_YAML, 'utf8')) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: local.name, version: local.version, appVersion: local.appVersion, annotations: local.annotations });
    expect(Object.keys(shown.annotations as object)).toEqual(expect.arrayContaining(['artifacthub.io/crds', 'artifacthub.io/images', 'artifacthub.io/license']));
  });

  test("is served over TLS that helm verifies: without the stack's CA it refuses the registry", async () => {
    const [ref, , version] = chartSource(ctx);
    const err = await helm(ctx, ['show', 'chart', ref, '--version', version]).then(
      () => '',
      (e: { stderr?: string }) => e.stderr ?? 'failed without stderr',
    );
    expect(err).toMatch(/x509: certificate signed by unknown authority|tls: failed to verify certificate/);
  });
});
