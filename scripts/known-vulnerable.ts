/**
 * Package versions a security scanner flags, kept out of what the image ships.
 *
 * npm's audit endpoint is not reachable from every machine that builds this project
 * (CI included), so the advisories the production tree has met are written down here
 * and checked offline: the unit test operator/test/unit/knownVulnerable.test.ts reads
 * package-lock.json, the image test reads the image's CycloneDX SBOM. An advisory
 * for a package we ship is added here when it is fixed (package.json's overrides).
 */

export interface Advisory {
  /** The package's own name (an npm alias is resolved: the lockfile's `name`). */
  name: string;
  ids: string;
  /** Affected ranges, each [introduced, fixed): a version v is affected when introduced ≤ v < fixed. */
  affected: readonly (readonly [string, string | undefined])[];
}

/** `undefined` as fixed: no fixed version exists, the package must not be shipped at all. */
export const KNOWN_VULNERABLE: readonly Advisory[] = [
  { name: 'form-data', ids: 'CVE-2025-7783', affected: [['0.0.0', '2.5.4'], ['3.0.0', '3.0.4'], ['4.0.0', '4.0.4']] },
  { name: 'uuid', ids: 'CVE-2026-41907 (GHSA-w5hq-g745-h8pq)', affected: [['3.0.0', '11.1.1'], ['12.0.0', '12.0.1'], ['13.0.0', '13.0.1']] },
  // Unmaintained since 2020; CVE-2023-28155 (SSRF through a cross-protocol redirect) has no fix.
  { name: 'request', ids: 'CVE-2023-28155', affected: [['0.0.0', undefined]] },
  { name: 'tough-cookie', ids: 'CVE-2023-26136', affected: [['0.0.0', '4.1.3']] },
  { name: 'jsonpath-plus', ids: 'CVE-2024-21534, CVE-2025-1302', affected: [['0.0.0', '10.3.0']] },
  { name: 'tar', ids: 'GHSA-23hp-3jrh-7fpw, GHSA-qffp-2rhf-9h96, GHSA-9ppj-qmqm-q256 and earlier', affected: [['0.0.0', '7.5.20']] },
];

export interface Package {
  name: string;
  version: string;
  /** Where it was found (a lockfile path, an SBOM purl), for the message. */
  at: string;
}

/** Numeric major.minor.patch; a pre-release counts as its release (conservative for "fixed in"). */
function parts(version: string): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`not a semantic version: ${version}`);
  return m.slice(1, 4).map(Number);
}

function compare(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** One line per shipped package version that an advisory names. */
export function vulnerable(packages: readonly Package[], advisories: readonly Advisory[] = KNOWN_VULNERABLE): string[] {
  return packages.flatMap((p) =>
    advisories
      .filter((a) => a.name === p.name && a.affected.some(([from, fixed]) => compare(p.version, from) >= 0 && (fixed === undefined || compare(p.version, fixed) < 0)))
      .map((a) => `${p.name}@${p.version} (${p.at}): ${a.ids}`),
  );
}

interface LockEntry {
  name?: string;
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  link?: boolean;
}

/** The production tree of a package-lock.json (v2/v3): every installed package not marked dev. */
export function productionPackages(lock: { packages: Record<string, LockEntry> }): Package[] {
  return Object.entries(lock.packages)
    .filter(([at, e]) => at !== '' && !e.dev && !e.devOptional && !e.link && e.version)
    .map(([at, e]) => ({ name: e.name ?? at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length), version: e.version as string, at }));
}

interface SbomComponent {
  group?: string;
  name: string;
  version: string;
  purl?: string;
  components?: SbomComponent[];
}

/**
 * The npm components of a CycloneDX SBOM. cyclonedx-npm names a scoped package by
 * group + name, and nests a package installed under another (node_modules/a/node_modules/b)
 * inside that one's entry: those count too.
 */
export function sbomPackages(sbom: { components: SbomComponent[] }): Package[] {
  return sbom.components.flatMap((c) => [
    { name: c.group ? `${c.group}/${c.name}` : c.name, version: c.version, at: c.purl ?? c.name },
    ...sbomPackages({ components: c.components ?? [] }),
  ]);
}
