// Sample application: reads its secret once, at start (as most apps do), and serves a
// fingerprint of it: the first 16 hex digits of its SHA-256. Never the value itself.
// After a rotation only a restarted pod serves the new fingerprint, which is what the
// operator's rolling restart is for. The secret comes from AWS Secrets Manager
// (SECRET_ID), or, as External Secrets Operator delivers it, from a Kubernetes Secret
// exposed to the container as an environment variable (SECRET_ENV names it).
//
//   GET /          {"fingerprint":"…","versionId":"…","pod":"…","startedAt":"…"}
//   GET /readyz    200 while serving, 503 once shutting down
//
// Environment: SECRET_ID or SECRET_ENV (one is required), PORT (8080),
// SHUTDOWN_DELAY_MS (3000: keep serving this long after SIGTERM, so clients that still
// route here finish), and the AWS SDK's usual variables (AWS_REGION, credentials chain,
// AWS_ENDPOINT_URL).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const log = (msg, fields = {}) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);

const secretId = process.env.SECRET_ID;
const secretEnv = process.env.SECRET_ENV;
if (!secretId && !secretEnv) {
  process.stderr.write('fingerprint-app: SECRET_ID (name or ARN of the secret) or SECRET_ENV (the variable holding it) is required\n');
  process.exit(2);
}
if (secretEnv && process.env[secretEnv] === undefined) {
  process.stderr.write(`fingerprint-app: SECRET_ENV names ${secretEnv}, which is not set\n`);
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8080);
const shutdownDelayMs = Number(process.env.SHUTDOWN_DELAY_MS ?? 3000);

/** The secret's value and, from Secrets Manager, its version (a Kubernetes Secret does not say). */
async function readSecret() {
  if (secretEnv) return { material: process.env[secretEnv], versionId: null };
  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId }));
  return { material: secret.SecretString ?? Buffer.from(secret.SecretBinary ?? []).toString('base64'), versionId: secret.VersionId };
}
const { material, versionId } = await readSecret();
const body = JSON.stringify({
  fingerprint: createHash('sha256').update(material).digest('hex').slice(0, 16),
  versionId,
  pod: process.env.POD_NAME ?? hostname(),
  startedAt: new Date().toISOString(),
});
log('serving', JSON.parse(body));

let shuttingDown = false;
const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(shuttingDown ? 503 : 200, { 'content-type': 'text/plain' }).end(shuttingDown ? 'shutting down\n' : 'ok\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', connection: shuttingDown ? 'close' : 'keep-alive' }).end(`${body}\n`);
});
server.keepAliveTimeout = 1000;
server.listen(port, () => log('listening', { port }));

process.on('SIGTERM', () => {
  shuttingDown = true;
  log('SIGTERM: draining', { shutdownDelayMs });
  setTimeout(() => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  }, shutdownDelayMs).unref();
});
