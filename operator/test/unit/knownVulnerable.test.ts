/**
 * The production tree (what the image ships, package-lock.json without dev packages)
 * holds no version an advisory in scripts/known-vulnerable.ts names: an update or a
 * dropped override that brings one back fails here, offline.
 */
import fs from 'node:fs';
import path from 'node:path';
import { productionPackages, vulnerable, type Package } from '../../../scripts/known-vulnerable';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as Parameters<typeof productionPackages>[0];

describe('known-vulnerable versions', () => {
  it('the production tree of package-lock.json has none', () => {
    expect(vulnerable(productionPackages(lock))).toEqual([]);
  });

  it('the production tree is what the operator needs (the check reads the real tree, not an empty one)', () => {
    const names = new Set(productionPackages(lock).map((p) => p.name));
    for (const name of ['@kubernetes/client-node', '@aws-sdk/client-sqs', 'winston', '@cypress/request', 'form-data']) expect(names).toContain(name);
    expect(names).not.toContain('jest');
  });

  it('an affected version is named with its advisory; the fixed version and versions past it are not', () => {
    const at = (name: string, version: string): Package => ({ name, version, at: `node_modules/${name}` });
    expect(vulnerable([at('form-data', '2.3.3'), at('form-data', '2.5.4'), at('form-data', '4.0.3'), at('form-data', '4.0.6')])).toEqual([
      'form-data@2.3.3 (node_modules/form-data): CVE-2025-7783',
      'form-data@4.0.3 (node_modules/form-data): CVE-2025-7783',
    ]);
    expect(vulnerable([at('uuid', '3.4.0'), at('uuid', '11.1.1'), at('uuid', '12.0.0'), at('uuid', '14.0.0')]).map((l) => l.split(' ')[0])).toEqual(['uuid@3.4.0', 'uuid@12.0.0']);
    expect(vulnerable([at('request', '2.88.2')])).toHaveLength(1);
  });

  it('an npm alias is judged by the package it installs, not by the name it is installed under', () => {
    const aliased = productionPackages({ packages: { '': {}, 'node_modules/request': { name: '@cypress/request', version: '4.0.1' } } });
    expect(aliased).toEqual([{ name: '@cypress/request', version: '4.0.1', at: 'node_modules/request' }]);
  });
});
