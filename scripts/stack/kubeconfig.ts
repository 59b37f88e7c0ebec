/**
 * Kubeconfig files for the local stack: self-contained (certificates embedded), one
 * cluster, one user, one context named "stack".
 */
import * as fs from 'node:fs';

export interface CertCredentials {
  certFile: string;
  keyFile: string;
}

export interface KubeconfigOptions {
  server: string;
  caFile: string;
  user: string;
  /** Client certificate and key (files are read and embedded). */
  cert?: CertCredentials;
  /** Bearer token (e.g. from TokenRequest for a ServiceAccount). */
  token?: string;
  namespace?: string;
}

const b64 = (file: string): string => fs.readFileSync(file).toString('base64');

/** Renders a kubeconfig document (YAML). */
export function renderKubeconfig(o: KubeconfigOptions): string {
  const userLines: string[] = [];
  if (o.cert) {
    userLines.push(`    client-certificate-data: ${b64(o.cert.certFile)}`, `    client-key-data: ${b64(o.cert.keyFile)}`);
  }
  if (o.token) userLines.push(`    token: ${JSON.stringify(o.token)}`);
  if (userLines.length === 0) throw new Error('renderKubeconfig: give a client certificate or a token');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: stack',
    '  cluster:',
    `    server: ${o.server}`,
    `    certificate-authority-data: ${b64(o.caFile)}`,
    'users:',
    `- name: ${JSON.stringify(o.user)}`,
    '  user:',
    ...userLines,
    'contexts:',
    '- name: stack',
    '  context:',
    '    cluster: stack',
    `    user: ${JSON.stringify(o.user)}`,
    ...(o.namespace ? [`    namespace: ${o.namespace}`] : []),
    'current-context: stack',
    '',
  ].join('\n');
}

/** Writes a kubeconfig file (mode 0600) and returns its path. */
export function writeKubeconfig(file: string, o: KubeconfigOptions): string {
  fs.writeFileSync(file, renderKubeconfig(o), { mode: 0o600 });
  return file;
}
