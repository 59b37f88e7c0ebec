// Sample application: reads its secret once, at start (as most apps do), and serves a
// fingerprint of it: the first 16 hex digits of its SHA-256. Never the value itself.
// After a rotation only a restarted pod serves the new fingerprint, which is what the
// operator's rolling restart is for. The secret comes from AWS Secrets Manager
// (SECRET_ID), or, as External Secrets Operator delivers it, from a Kubernetes Secret
// exposed to the container as an environment variable (SECRET_ENV names it).
//
//   GET /          {"fingerprint":"…","versionId":"…","pod":"…","startedAt":"…"}
//   GET /readyz    200 while serving, 503 once shutting down (and, with READY_ONLY_IF_OK,
//                  503 for good when the value is not valid for the app)
//
// Environment: SECRET_ID or SECRET_ENV (one is required), PORT (8080),
// READY_ONLY_IF_OK (true: the app is never ready unless its value is JSON with "ok": true,
// the way an app refuses a wrong password: what a rollout's canary is for),
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
const readyOnlyIfOk = process.env.READY_ONLY_IF_OK === 'true';
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

/** Whether the value is one this app can work with (only asked with READY_ONLY_IF_OK). */
function valueIsValid(text) {
  try {
    return JSON.parse(text)?.ok === true;
  } catch {
    return false;
  }
}
const unusable = readyOnlyIfOk && !valueIsValid(material);
if (unusable) log('the secret is not valid for this app (not JSON with "ok": true): never ready');

let shuttingDown = false;
const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    const why = shuttingDown ? 'shutting down' : unusable ? 'the secret is not valid for this app' : undefined;
    res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(`${why ?? 'ok'}\n`);
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
