/**
 * The stack registry's pure parts: its configuration (loopback, TLS, storage in the
 * stack's folder), containerd's trust of it, and how published images and the chart
 * are named. The registry itself is exercised by e2e/registry.e2e.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { chartSourceArgs, nameAndTag, pinnedRef, type Published } from '../../../scripts/stack/publish';
import { registryHostsToml } from '../../../scripts/stack/realnode';
import { chartOciRef, registryArgs, writeRegistryConfig } from '../../../scripts/stack/registry';

describe("the stack registry's configuration", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-test-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), 'CA');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('listens on loopback only, serves TLS with the given certificate, stores under its folder', () => {
    const l = writeRegistryConfig(path.join(dir, 'registry'), { port: 5123, cert: '/pki/registry.crt', key: '/pki/registry.key', caCert: path.join(dir, 'ca.pem') });
    const cfg = load(fs.readFileSync(l.configFile, 'utf8')) as { http: { addr: string; tls: { certificate: string; key: string }; secret: string }; storage: { filesystem: { rootdirectory: string } } };
    expect(cfg.http.addr).toBe('127.0.0.1:5123');
    expect(cfg.http.tls).toEqual({ certificate: '/pki/registry.crt', key: '/pki/registry.key' });
    expect(cfg.http.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(cfg.storage.filesystem.rootdirectory.startsWith(path.join(dir, 'registry'))).toBe(true);
    expect(fs.readFileSync(path.join(l.certDir, 'ca.crt'), 'utf8')).toBe('CA');
    expect(registryArgs(l)).toEqual(['serve', l.configFile]);
  });

  it('containerd pulls from it over verified TLS: https, the CA named, no skip_verify', () => {
    const toml = registryHostsToml('127.0.0.1:5123', '/pki/ca.crt');
    expect(toml).toBe('server = "https://127.0.0.1:5123"\n\n[host."https://127.0.0.1:5123"]\n  capabilities = ["pull", "resolve"]\n  ca = "/pki/ca.crt"\n');
    expect(toml).not.toMatch(/skip_verify|http:\/\//);
  });
});

describe('names of what is published', () => {
  it('an image archive name gives the repository name and tag', () => {
    expect(nameAndTag('docker.io/library/secrets-rotation-operator:0.1.0')).toEqual({ name: 'secrets-rotation-operator', tag: '0.1.0' });
    expect(nameAndTag('fingerprint-app:1.2.3-rc.1')).toEqual({ name: 'fingerprint-app', tag: '1.2.3-rc.1' });
    expect(() => nameAndTag('docker.io/library/secrets-rotation-operator')).toThrow('not an image reference with a tag');
  });

  it('pods pull by digest; helm installs oci://<registry>/charts/<chart> at the version, trusting the CA', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(pinnedRef({ repository: '127.0.0.1:5123/fingerprint-app', tag: '0.1.0', digest, seconds: 1 })).toBe(`127.0.0.1:5123/fingerprint-app@${digest}`);
    const ref = chartOciRef({ STACK_REGISTRY: '127.0.0.1:5123' }, 'secrets-rotation-operator');
    expect(ref).toBe('oci://127.0.0.1:5123/charts/secrets-rotation-operator');
    const pub: Published = { version: '0.1.0', chart: { ref, version: '0.1.0', digest, seconds: 1 } };
    expect(chartSourceArgs(pub, { STACK_REGISTRY_CA_FILE: '/pki/ca.crt' })).toEqual([ref, '--version', '0.1.0', '--ca-file', '/pki/ca.crt']);
  });
});
