/**
 * Publishes this tree to the stack's registry, as a release would to yours:
 *   - the chart: `helm package` + `helm push` → oci://<registry>/charts/<chart>:<version>;
 *   - with `images` (what `npm run image` built): the operator's and the sample app's
 *     OCI archives, `skopeo copy` → <registry>/<name>:<version>.
 * Every version is package.json's (scripts/version.ts); publishing refuses to run while
 * a copy of it differs. What was pushed, with digests, goes to .stack/published.json
 * (stack:down removes it), so installs pin exactly what this run pushed.
 *
 * CLI: tsx scripts/stack/publish.ts [--images]   (--images builds them first; needs root)
 */
import * as fs from 'node:fs';
import { releaseVersion, SITES, versionMismatches } from '../version';
import { CHART_DIR, CHART_NAME, stackPaths, type StackPaths } from './paths';
import { chartOciRef, pushChart, pushImage, type RegistryEnv } from './registry';
import { readStackEnv, writeAtomic } from './state';

export interface PublishedImage {
  /** <registry>/<name> */
  repository: string;
  tag: string;
  digest: string;
  seconds: number;
}

export interface Published {
  version: string;
  chart: { ref: string; version: string; digest: string; seconds: number };
  operator?: PublishedImage;
  app?: PublishedImage;
}

/** The archives to push (scripts/image/build.sh --print-env names them). */
export interface ImageArchives {
  OPERATOR_IMAGE: string;
  OPERATOR_ARCHIVE: string;
  APP_IMAGE: string;
  APP_ARCHIVE: string;
}

/** `docker.io/library/fingerprint-app:0.1.0` → name `fingerprint-app`, tag `0.1.0`. Pure. */
export function nameAndTag(image: string): { name: string; tag: string } {
  const m = /^(?:.*\/)?([^/:@]+):([\w][\w.-]{0,127})$/.exec(image);
  if (!m) throw new Error(`not an image reference with a tag: ${image}`);
  return { name: m[1], tag: m[2] };
}

/** The reference a pod pulls: by digest. Pure. */
export function pinnedRef(img: PublishedImage): string {
  return `${img.repository}@${img.digest}`;
}

/** `helm install|upgrade|template` arguments naming the published chart (and how to trust the registry). Pure. */
export function chartSourceArgs(pub: Published, env: Pick<RegistryEnv, 'STACK_REGISTRY_CA_FILE'>): string[] {
  return [pub.chart.ref, '--version', pub.chart.version, '--ca-file', env.STACK_REGISTRY_CA_FILE];
}

function assertOneVersion(version: string): void {
  const texts = Object.fromEntries([...new Set(SITES.map((s) => s.file))].map((f) => [f, fs.readFileSync(f, 'utf8')]));
  const problems = versionMismatches(texts, version);
  if (problems.length) throw new Error(`not publishing: ${problems.join('; ')} (npx tsx scripts/version.ts --write)`);
}

async function pushArchive(env: RegistryEnv, image: string, archive: string, version: string): Promise<PublishedImage> {
  const { name, tag } = nameAndTag(image);
  if (tag !== version) throw new Error(`not publishing ${image}: its tag is not the release version ${version} (rebuild: npm run image)`);
  const pushed = await pushImage(env, `oci-archive:${archive}`, name, tag);
  return { repository: `${env.STACK_REGISTRY}/${name}`, tag, digest: pushed.digest, seconds: pushed.seconds };
}

/** Pushes the chart (and the images, when given) and records it; returns what was pushed. */
export async function publish(opts: { images?: ImageArchives; log?: (line: string) => void; paths?: StackPaths } = {}): Promise<Published> {
  const p = opts.paths ?? stackPaths();
  const log = opts.log ?? ((line: string) => process.stderr.write(`[publish] ${line}\n`));
  const env = readStackEnv(p);
  if (!env.STACK_REGISTRY) throw new Error('the stack has no registry (.stack/env.json has no STACK_REGISTRY): npm run stack:down && npm run stack:up');
  const version = releaseVersion();
  assertOneVersion(version);
  const chart = await pushChart(env, env.HELM_BIN, CHART_DIR, CHART_NAME, version);
  log(`chart ${chart.ref} pushed (${chart.digest}) in ${chart.seconds.toFixed(1)}s`);
  const published: Published = { version, chart: { ref: chartOciRef(env, CHART_NAME), version, digest: chart.digest, seconds: chart.seconds } };
  if (opts.images) {
    published.operator = await pushArchive(env, opts.images.OPERATOR_IMAGE, opts.images.OPERATOR_ARCHIVE, version);
    log(`image ${published.operator.repository}:${version} pushed (${published.operator.digest}) in ${published.operator.seconds.toFixed(1)}s`);
    published.app = await pushArchive(env, opts.images.APP_IMAGE, opts.images.APP_ARCHIVE, version);
    log(`image ${published.app.repository}:${version} pushed (${published.app.digest}) in ${published.app.seconds.toFixed(1)}s`);
  }
  writeAtomic(p.publishedFile, `${JSON.stringify(published, null, 2)}\n`);
  return published;
}

/** What the last publish pushed to this stack's registry. */
export function readPublished(p: StackPaths = stackPaths()): Published {
  if (!fs.existsSync(p.publishedFile)) throw new Error(`${p.publishedFile} is missing: nothing was published to the stack's registry (the e2e globalSetup does it; or npx tsx scripts/stack/publish.ts)`);
  return JSON.parse(fs.readFileSync(p.publishedFile, 'utf8')) as Published;
}

async function main(argv: string[]): Promise<void> {
  const withImages = argv.includes('--images');
  const unknown = argv.filter((a) => a !== '--images');
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]} (usage: publish.ts [--images])`);
  // Imported here: building needs root and buildah, which the chart alone does not.
  const images = withImages ? (await import('../kit/image')).buildImages() : undefined;
  const pub = await publish({ images });
  const env = readStackEnv();
  process.stdout.write(`helm install <release> ${chartSourceArgs(pub, env).join(' ')}\n`);
  for (const img of [pub.operator, pub.app]) if (img) process.stdout.write(`${img.repository}:${img.tag}  ${pinnedRef(img)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`publish: ${e.message}\n`);
    process.exitCode = 1;
  });
}
