/**
 * Benchmarks of the pure core; prints figures, asserts nothing (targets live here,
 * not in timed unit tests). Run: npm run bench
 */
import fs from 'node:fs';
import path from 'node:path';
import { interpretMessage } from '../src/events/interpret';
import { MappingIndex } from '../src/mappings/mappingIndex';
import { normaliseMapping, type Mapping } from '../src/mappings/model';
import { planRestarts, type Match } from '../src/rotation/plan';
import { parseSecretId } from '../src/secrets/secretId';

function measure(label: string, iterations: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(1000, iterations); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  const perSecond = 1e9 / ns;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(9)} ns/op ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} op/s`);
}

function mapping(i: number): Mapping {
  const n = normaliseMapping({ metadata: { name: `m${i}`, namespace: `ns${i % 50}`, uid: `u${i}`, generation: 1 }, spec: { secretId: `team-${i}/db`, selector: { matchLabels: { app: `a${i}` } } } });
  if (!n.ok) throw new Error('bad mapping');
  return n.mapping;
}

const dir = path.join(__dirname, '..', 'test', 'fixtures', 'events');
const bodies = fs.readdirSync(dir).filter((f) => f !== 'README.md' && f !== 'manifest.json').map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));

console.log(`secrets-rotation-operator core benchmarks — node ${process.version}, ${process.arch}\n`);
measure(`interpretMessage, ${bodies.length} fixtures round-robin`, 200_000, (i) => interpretMessage(bodies[i % bodies.length]));
measure('interpretMessage, 200 KiB garbage body', 2_000, () => interpretMessage(`{"x":"${'y'.repeat(200 * 1024)}"`));

for (const size of [1_000, 10_000, 100_000]) {
  const index = new MappingIndex();
  for (let i = 0; i < size; i++) index.upsert(mapping(i));
  const probe = parseSecretId(`arn:aws:secretsmanager:us-east-1:123456789012:secret:team-${size >> 1}/db-AbC123`, 'full');
  measure(`index lookup with ${size.toLocaleString('en-US')} mappings`, 200_000, () => index.lookup(probe));
}

const m = mapping(1);
const workloads = Array.from({ length: 100 }, (_, i) => ({ kind: 'Deployment' as const, namespace: m.namespace, name: `w${i}`, rollout: 'Rolling' as const, appliedVersions: {} }));
const matches: Match[] = Array.from({ length: 10 }, (_, i) => ({
  change: { changeId: `m${i}`, change: { kind: 'SecretLabelUpdated', eventId: `e${i}`, eventTime: `2026-01-01T00:00:0${i}Z`, secret: m.secret }, secretKey: 'k', version: `v${i}` },
  mapping: m,
  workloads,
}));
measure('planRestarts, 10 changes x 100 workloads (coalesced to 100)', 2_000, () => planRestarts(matches));
