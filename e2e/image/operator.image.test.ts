/**
 * The operator's image as `npm run image` builds it from the Dockerfile, run the way
 * the chart runs it: read-only root file system, UID 65532, no shell.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { buildImages, BuiltImages, imageToolsMissing, podman } from '../../scripts/kit/image';
import { REPO_ROOT } from '../support/kube';
import { waitFor } from '../support/wait';
import { sbomPackages, vulnerable } from '../../scripts/known-vulnerable';
import { freePort } from '../../scripts/kit/net';

const missing = imageToolsMissing();
const describeImage = missing ? describe.skip : describe;
if (missing) process.stderr.write(`[image] skipped: ${missing}\n`);

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout'))).on('error', reject);
  });
}

describeImage(`operator image${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let images: BuiltImages;
  const started: string[] = [];

  beforeAll(() => {
    images = buildImages('operator');
  }, 20 * 60_000);

  afterAll(async () => {
    for (const id of started) await podman(['rm', '--force', '--time', '0', id], { allowFail: true });
  });

  test('npm run image leaves an OCI archive and a CycloneDX SBOM of the npm packages', () => {
    expect(fs.statSync(images.OPERATOR_ARCHIVE).size).toBeGreaterThan(10 << 20);
    const sbom = JSON.parse(fs.readFileSync(images.OPERATOR_SBOM, 'utf8')) as { bomFormat: string; components: { name: string }[] };
    expect(sbom.bomFormat).toBe('CycloneDX');
    const names = sbom.components.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['client-sqs', 'winston']));
    // Production packages only: what the image ships.
    expect(names).not.toContain('jest');
  });

  test('carries the OCI labels: title, description, licenses and version from package.json, revision and created from the commit', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; description: string; license: string; version: string };
    const git = (...args: string[]) => execFileSync('git', ['-C', REPO_ROOT, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).trim();
    const cfg = JSON.parse((await podman(['image', 'inspect', images.OPERATOR_IMAGE])).stdout)[0] as { Config: { Labels?: Record<string, string> } };
    const oci = Object.fromEntries(Object.entries(cfg.Config.Labels ?? {}).filter(([k]) => k.startsWith('org.opencontainers.image.')));
    const origin = (() => {
      try {
        return git('remote', 'get-url', 'origin').replace(/:\/\/[^/@]*@/, '://');
      } catch {
        return undefined;
      }
    })();
    expect(oci).toEqual({
      'org.opencontainers.image.title': pkg.name,
      'org.opencontainers.image.description': pkg.description,
      'org.opencontainers.image.licenses': pkg.license,
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.revision': git('rev-parse', 'HEAD'),
      'org.opencontainers.image.created': git('log', '-1', '--format=%cd', '--date=format-local:%Y-%m-%dT%H:%M:%SZ'),
      ...(origin ? { 'org.opencontainers.image.source': origin } : {}),
    });
  });

  test("the SBOM names no version a known advisory flags (scripts/known-vulnerable.ts)", () => {
    const sbom = JSON.parse(fs.readFileSync(images.OPERATOR_SBOM, 'utf8')) as Parameters<typeof sbomPackages>[0];
    expect(vulnerable(sbomPackages(sbom))).toEqual([]);
  });

  test('the runtime stage has no npm, no shell and runs as 65532', async () => {
    const cfg = JSON.parse((await podman(['image', 'inspect', images.OPERATOR_IMAGE])).stdout)[0] as { Config: { User: string; Entrypoint: string[] } };
    expect(cfg.Config.User).toBe('65532:65532');
    expect(cfg.Config.Entrypoint).toEqual(['/nodejs/bin/node']);
    const probe = await podman(['run', '--rm', '--network', 'none', '--entrypoint', '/nodejs/bin/node', images.OPERATOR_IMAGE, '-e',
      "const fs=require('fs');console.log(JSON.stringify(['/usr/local/bin/npm','/usr/bin/npm','/bin/sh','/usr/bin/apt-get','/usr/bin/gcc'].filter(p=>fs.existsSync(p))))"]);
    expect(JSON.parse(probe.stdout.trim())).toEqual([]);
  }, 120_000);

  test('with no environment it prints the one-line configuration error and exits 2', async () => {
    const r = await podman(['run', '--rm', '--network', 'none', images.OPERATOR_IMAGE], { allowFail: true });
    expect(r.code).toBe(2);
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n');
    expect(lines).toEqual(['configuration error: SQS_QUEUE_URL is required but not set']);
  }, 120_000);

  test('read-only, as UID 65532, it serves /healthz and cannot write its own files', async () => {
    const port = await freePort();
    const { stdout } = await podman(['run', '--detach', '--network', 'host', '--read-only', '--user', '65532:65532',
      '-e', 'SQS_QUEUE_URL=http://127.0.0.1:9/000000000000/image-test', '-e', 'AWS_REGION=us-east-1', '-e', 'LEADER_ELECTION=false',
      '-e', `HTTP_PORT=${port}`, images.OPERATOR_IMAGE]);
    const id = stdout.trim();
    started.push(id);
    const health = await waitFor(`/healthz on :${port}`, async () => {
      const r = await get(port, '/healthz').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 60_000 });
    expect(health.body).toBe('ok\n');
    const write = await podman(['exec', id, '/nodejs/bin/node', '-e', "try{require('fs').writeFileSync('/app/x','x');console.log('wrote')}catch(e){console.log(e.code)}"]);
    expect(write.stdout.trim()).toBe('EROFS');
    const who = await podman(['exec', id, '/nodejs/bin/node', '-e', 'console.log(process.getuid()+":"+process.getgid())']);
    expect(who.stdout.trim()).toBe('65532:65532');
  }, 120_000);
});
