/**
 * The release version. package.json's "version" is the one place it is written: the
 * chart and the image are released together under it.
 *   - Chart.yaml's `version` (the chart) and `appVersion` (the image tag the chart
 *     defaults to), the tag in its `artifacthub.io/images` annotation, and the sample
 *     app's image tag in examples/fingerprint-app/deployment.yaml carry copies (SITES),
 *     because helm and kubectl read those files as they are; `npm version <v>` rewrites
 *     them (the `version` lifecycle script runs `--write`), and `--check` (in
 *     npm run test:chart) and a unit test fail when one differs;
 *   - scripts/image/build.sh tags both images with it (`--print-version` shows it);
 *   - scripts/stack/publish.ts packages and pushes the chart and the images under it;
 *   - the operator reads it from the package.json it ships with (operator/src/version.ts)
 *     and exports it as secrets_rotation_operator_build_info{version}.
 *
 * Usage: tsx scripts/version.ts [--check | --write]
 */
import fs from 'node:fs';
import path from 'node:path';
import { releaseVersion as parseReleaseVersion } from '../operator/src/version';

const REPO_ROOT = path.resolve(__dirname, '..');
export const PACKAGE_JSON = path.join(REPO_ROOT, 'package.json');
export const CHART_YAML = path.join(REPO_ROOT, 'charts', 'secrets-rotation-operator', 'Chart.yaml');
export const APP_DEPLOYMENT = path.join(REPO_ROOT, 'examples', 'fingerprint-app', 'deployment.yaml');

/** package.json's version: the release version of the chart, both images and the operator's build_info metric. */
export function releaseVersion(packageJson: string = fs.readFileSync(PACKAGE_JSON, 'utf8')): string {
  return parseReleaseVersion(packageJson);
}

/** A copy of the version in a file helm or kubectl reads as it is. */
interface Site {
  file: string;
  what: string;
  /** Group 2 is the version; groups 1 and 3 what surrounds it on its line. */
  re: RegExp;
}

export const SITES: readonly Site[] = [
  { file: CHART_YAML, what: 'version', re: /^(version:\s*"?)([^"\s]+)("?\s*)$/m },
  { file: CHART_YAML, what: 'appVersion', re: /^(appVersion:\s*"?)([^"\s]+)("?\s*)$/m },
  { file: CHART_YAML, what: 'artifacthub.io/images tag', re: /^(\s+image:\s*\S*secrets-rotation-operator:)([^"\s]+)(\s*)$/m },
  { file: APP_DEPLOYMENT, what: 'image tag', re: /^(\s+image:\s*\S*fingerprint-app:)([^"\s]+)(\s*)$/m },
];

const shown = (file: string): string => path.relative(REPO_ROOT, file);

/** One line per site of `texts` (file → content) that does not state `version`. Pure. */
export function versionMismatches(texts: Record<string, string>, version: string, sites: readonly Site[] = SITES): string[] {
  return sites.flatMap((s) => {
    const found = s.re.exec(texts[s.file] ?? '')?.[2];
    if (found === version) return [];
    return [found === undefined ? `${shown(s.file)} has no ${s.what}` : `${shown(s.file)} ${s.what} is ${found}, package.json's version is ${version}`];
  });
}

/** `text` (the content of `file`) with each of its sites set to `version`, nothing else changed. Pure. */
export function withVersion(file: string, text: string, version: string, sites: readonly Site[] = SITES): string {
  return sites.filter((s) => s.file === file).reduce((t, s) => t.replace(s.re, (_all, pre: string, _old: string, post: string) => `${pre}${version}${post}`), text);
}

const readSites = (): Record<string, string> => Object.fromEntries([...new Set(SITES.map((s) => s.file))].map((f) => [f, fs.readFileSync(f, 'utf8')]));

function main(argv: string[]): number {
  const version = releaseVersion();
  if (argv[0] === '--write') {
    for (const [file, text] of Object.entries(readSites())) fs.writeFileSync(file, withVersion(file, text, version));
    const left = versionMismatches(readSites(), version);
    if (left.length) throw new Error(left.join('\n'));
    process.stdout.write(`${SITES.map((s) => `${shown(s.file)} ${s.what}`).join(', ')} set to ${version}\n`);
    return 0;
  }
  if (argv[0] === '--check') {
    const problems = versionMismatches(readSites(), version);
    for (const p of problems) process.stderr.write(`${p} (fix: npx tsx scripts/version.ts --write)\n`);
    if (!problems.length) process.stdout.write(`every copy of the version (${SITES.length}) equals package.json's ${version}\n`);
    return problems.length ? 1 : 0;
  }
  if (argv.length) throw new Error(`unknown argument ${argv[0]} (--check or --write)`);
  process.stdout.write(`${version}\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
