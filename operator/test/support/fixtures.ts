import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');

export interface FixtureCase {
  file: string;
  outcome: 'change' | 'not-a-change' | 'parse-error';
  reason: string;
  secretId: string | null;
  secretIdForm: string | null;
  versionId: string | null;
  routed: { default: boolean; withCloudTrail: boolean } | null;
}

export const manifest: FixtureCase[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));

export function fixture(file: string): string {
  return fs.readFileSync(path.join(FIXTURES, file), 'utf8');
}
