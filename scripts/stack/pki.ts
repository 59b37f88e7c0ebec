/**
 * Certificates and keys for the local control plane, made with openssl:
 * a CA, the API server's serving certificate, client certificates (the admin in
 * group system:masters, the controller manager, the scheduler, kwok, the real
 * node's kubelet) and the
 * service-account signing key pair used by TokenRequest, the front-proxy CA
 * and client of the aggregation layer, and the OCI registry's serving certificate.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** Aggregation layer: CA of the request-header (front proxy) client, and that client. */
  frontProxyCaCert: string;
  frontProxyClient: { cert: string; key: string };
  /** The stack's OCI registry on 127.0.0.1 (registry.ts), signed by the CA. */
  registry: { cert: string; key: string };
  clients: Record<PkiClient, { cert: string; key: string }>;
}

export type PkiClient = 'admin' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok' | 'real-node';

const CLIENT_SUBJECTS: Record<PkiClient, string> = {
  admin: '/O=system:masters/CN=stack-admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  // kwok writes node and pod status and node leases for fake nodes.
  kwok: '/O=system:masters/CN=kwok',
  // The real node's kubelet (realnode.ts REAL_NODE_NAME); bound to ClusterRole system:node.
  'real-node': '/O=system:nodes/CN=system:node:sro-real-node',
};

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

/**
 * A throwaway self-signed certificate for 127.0.0.1 (an EC key, valid two days), for a
 * test server that its client is told to trust: the bench's proxy, unit tests over TLS.
 */
export function loopbackCertificate(commonName: string): { cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopback-cert-'));
  try {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'], dir);
    return { cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function selfSignedCa(dir: string, name: string, subject: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-sha256', '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
}

function signed(dir: string, name: string, subject: string, ext: string, ca = 'ca'): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, ext);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', subject, '-out', csr], dir);
  openssl(
    ['x509', '-req', '-in', csr, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', extFile, '-out', cert],
    dir,
  );
  fs.rmSync(csr);
  fs.rmSync(extFile);
  return { cert, key };
}

/** Creates every certificate and key under `dir` (which must exist). */
export function createPki(dir: string): Pki {
  selfSignedCa(dir, 'ca', '/CN=secrets-rotation-operator-stack-ca');
  selfSignedCa(dir, 'front-proxy-ca', '/CN=secrets-rotation-operator-stack-front-proxy-ca');
  const serving = signed(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'),
  );
  const registry = signed(
    dir,
    'registry',
    '/CN=sro-stack-registry',
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost', ''].join('\n'),
  );
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', ''].join('\n');
  const clients = {} as Pki['clients'];
  for (const [name, subject] of Object.entries(CLIENT_SUBJECTS) as [PkiClient, string][]) {
    clients[name] = signed(dir, `client-${name}`, subject, clientExt);
  }
  const frontProxyClient = signed(dir, 'front-proxy-client', '/CN=front-proxy-client', clientExt, 'front-proxy-ca');
  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    apiserverCert: serving.cert,
    apiserverKey: serving.key,
    serviceAccountKey: path.join(dir, 'sa.key'),
    serviceAccountPub: path.join(dir, 'sa.pub'),
    frontProxyCaCert: path.join(dir, 'front-proxy-ca.crt'),
    frontProxyClient,
    registry,
    clients,
  };
}
