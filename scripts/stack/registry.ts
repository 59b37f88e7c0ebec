/**
 * The stack's OCI registry: the CNCF distribution registry (built from its Go module,
 * scripts/toolchain/build.sh family `registry`) on 127.0.0.1, serving TLS with a
 * certificate of the stack's own CA. helm (`--ca-file`), skopeo (`--dest-cert-dir`) and
 * the real node's containerd (a hosts.toml naming the CA) verify it as they would any
 * registry: nothing runs with "insecure" or plain HTTP. No authentication: it listens
 * on loopback only (the real node's containerd runs in the host's network namespace).
 * Its storage is in the stack's data folder, which stack:down removes.
 *
 * Also here: pushing to it, with the tools users push with (skopeo for images, helm for
 * the chart); publish.ts decides what is pushed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RegistryLayout {
  configFile: string;
  storageDir: string;
  /** For skopeo's --dest-cert-dir: the stack CA as ca.crt. */
  certDir: string;
}

/** The registry's config.yml (version 0.1 of distribution's format), storage under `dir`. */
export function writeRegistryConfig(dir: string, o: { port: number; cert: string; key: string; caCert: string }): RegistryLayout {
  const layout: RegistryLayout = { configFile: path.join(dir, 'config.yml'), storageDir: path.join(dir, 'storage'), certDir: path.join(dir, 'client-certs') };
  fs.mkdirSync(layout.storageDir, { recursive: true });
  fs.mkdirSync(layout.certDir, { recursive: true });
  fs.copyFileSync(o.caCert, path.join(layout.certDir, 'ca.crt'));
  fs.writeFileSync(
    layout.configFile,
    `version: 0.1
log:
  level: info
  formatter: json
storage:
  filesystem:
    rootdirectory: ${layout.storageDir}
  delete:
    enabled: true
  # A test run pushes and is gone: no background purging of half-done uploads.
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${o.port}
  # Signs upload state between requests; one process, so any random value.
  secret: ${randomBytes(16).toString('hex')}
  tls:
    certificate: ${o.cert}
    key: ${o.key}
  headers:
    X-Content-Type-Options: [nosniff]
`,
    { mode: 0o600 },
  );
  return layout;
}

export function registryArgs(l: RegistryLayout): string[] {
  return ['serve', l.configFile];
}

/** The registry's environment: its OpenTelemetry exporter would otherwise send traces to localhost:4318. */
export const REGISTRY_ENV: Record<string, string> = { OTEL_TRACES_EXPORTER: 'none' };

/** GET /v2/ verified with the stack CA: 200 and the distribution API header. */
export function registryAnswers(host: string, caFile: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(`https://${host}/v2/`, { ca: fs.readFileSync(caFile), timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 && res.headers['docker-distribution-api-version'] === 'registry/2.0');
    });
    req.on('timeout', () => req.destroy(new Error('timeout'))).on('error', () => resolve(false));
  });
}

// ------------------------------------------------------------------ pushing

/** Where the stack's registry is and how to trust it (from .stack/env.json). */
export interface RegistryEnv {
  /** host:port */
  STACK_REGISTRY: string;
  STACK_REGISTRY_CA_FILE: string;
  STACK_REGISTRY_CERT_DIR: string;
}

export interface Pushed {
  /** The reference pushed, `host:port/repository:tag` (oci:// for a chart). */
  ref: string;
  digest: string;
  seconds: number;
}

const PUSH_TIMEOUT_MS = 300_000;

/**
 * skopeo copy of an image archive (`oci-archive:` or `docker-archive:` transport)
 * to `<registry>/<repository>:<tag>`, verifying the registry's certificate.
 */
export async function pushImage(env: RegistryEnv, source: string, repository: string, tag: string): Promise<Pushed> {
  const t0 = Date.now();
  const ref = `${env.STACK_REGISTRY}/${repository}:${tag}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-push-'));
  try {
    const digestFile = path.join(tmp, 'digest');
    await run('skopeo', ['copy', '--quiet', '--dest-cert-dir', env.STACK_REGISTRY_CERT_DIR, '--digestfile', digestFile, source, `docker://${ref}`], { timeout: PUSH_TIMEOUT_MS }).catch((e: Error & { stderr?: string }) => {
      throw new Error(`skopeo copy ${source} docker://${ref}: ${(e.stderr || e.message).trim()}`);
    });
    const digest = fs.readFileSync(digestFile, 'utf8').trim();
    return { ref, digest, seconds: (Date.now() - t0) / 1000 };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Where charts go: oci://<registry>/charts/<chart name>. */
export const CHART_REPOSITORY = 'charts';

export function chartOciRef(env: Pick<RegistryEnv, 'STACK_REGISTRY'>, chartName: string): string {
  return `oci://${env.STACK_REGISTRY}/${CHART_REPOSITORY}/${chartName}`;
}

/** `helm package` of the chart folder, then `helm push` to oci://<registry>/charts. */
export async function pushChart(env: RegistryEnv, helmBin: string, chartDir: string, chartName: string, version: string): Promise<Pushed> {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sro-chart-'));
  // No user repositories or registry logins: helm's homes are throwaway.
  const helmEnv = { ...process.env, HELM_CACHE_HOME: path.join(tmp, 'cache'), HELM_CONFIG_HOME: path.join(tmp, 'config'), HELM_DATA_HOME: path.join(tmp, 'data') };
  const helm = async (args: string[]): Promise<string> => {
    try {
      const { stdout, stderr } = await run(helmBin, args, { env: helmEnv, timeout: PUSH_TIMEOUT_MS });
      return `${stdout}\n${stderr}`;
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`helm ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
    }
  };
  try {
    await helm(['package', chartDir, '--destination', tmp]);
    const archive = path.join(tmp, `${chartName}-${version}.tgz`);
    if (!fs.existsSync(archive)) throw new Error(`helm package made no ${path.basename(archive)} (is Chart.yaml's version ${version}?)`);
    const out = await helm(['push', archive, `oci://${env.STACK_REGISTRY}/${CHART_REPOSITORY}`, '--ca-file', env.STACK_REGISTRY_CA_FILE]);
    const digest = /^Digest:\s*(sha256:[a-f0-9]{64})\s*$/m.exec(out)?.[1];
    if (!digest) throw new Error(`helm push printed no digest:\n${out.trim()}`);
    return { ref: `${chartOciRef(env, chartName)}:${version}`, digest, seconds: (Date.now() - t0) / 1000 };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The tags a repository of the registry has (GET /v2/<repository>/tags/list), verified with the stack CA. */
export function registryTags(env: Pick<RegistryEnv, 'STACK_REGISTRY' | 'STACK_REGISTRY_CA_FILE'>, repository: string, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = https.get(`https://${env.STACK_REGISTRY}/v2/${repository}/tags/list`, { ca: fs.readFileSync(env.STACK_REGISTRY_CA_FILE), timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode === 404) return resolve([]);
        if (res.statusCode !== 200) return reject(new Error(`GET /v2/${repository}/tags/list: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        resolve(((JSON.parse(body) as { tags?: string[] | null }).tags ?? []).sort());
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET /v2/${repository}/tags/list: no answer within ${timeoutMs} ms`))).on('error', reject);
  });
}
