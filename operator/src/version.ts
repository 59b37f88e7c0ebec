/**
 * The operator's release version. package.json's "version" is the one place it is
 * written (scripts/version.ts keeps the chart's and the image tags' copies equal to it);
 * the operator reads it from the package.json it ships with: beside dist/ in the image
 * (/app/package.json), at the repository root in a checkout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OPERATOR_NAME } from './core/names';

/** package.json's version, which must be a SemVer 2 version. Pure. */
export function releaseVersion(packageJson: string): string {
  const v = (JSON.parse(packageJson) as { version?: unknown }).version;
  if (typeof v !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v)) throw new Error(`package.json: "version" must be a SemVer 2 version such as 1.2.3, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The version in the nearest package.json named OPERATOR_NAME at or above `from` (this
 * module's directory: dist/ or operator/src/). Another package's package.json on the way
 * (none today) is passed over, not taken for ours.
 */
export function operatorVersion(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      if ((JSON.parse(text) as { name?: unknown }).name === OPERATOR_NAME) return releaseVersion(text);
    }
    if (path.dirname(dir) === dir) throw new Error(`no package.json named ${OPERATOR_NAME} at or above ${from}: the operator's version is unknown`);
  }
}
