/**
 * Scenario 1: `kill -9` of the operator in the middle of a batch that restarts 30
 * Deployments (three secrets, ten Deployments each, one restart at a time), the
 * moment the first "workload restarted" line is printed. Started again (same pod
 * name, as a restarted container), it must finish the batch from the redelivered
 * messages: every Deployment rolled exactly once, nothing left in the queue.
 */
import { FaultFile, countLogs, onLog, outputDrained } from './support/fixture';
import { progress } from './support/progress';
import { Ledger } from './support/ledger';
import { RssSampler } from './support/probes';

const S = '1 kill -9 mid-batch';
jest.setTimeout(600_000);

const f = FaultFile.forThisFile(S);

test('an operator killed mid-batch loses nothing and doubles nothing once started again', async () => {
  const ledger = new Ledger(f.ctx, S);
  const rss = new RssSampler();
  const ns = await f.namespace('kill9');
  const r = await f.install('kill9', ['--set', 'maxConcurrentRestarts=1']);
  const { secrets, mappings } = await f.groups(ledger, ns, 'kill9', 3, 30);

  const first = await f.start(r);
  rss.track(first);
  await f.waitMappingsReady(ns, mappings);

  const killed = new Promise<number>((resolve) =>
    onLog(first, 'workload restarted', (at) => {
      first.child.kill('SIGKILL');
      resolve(at);
    }),
  );
  for (const s of secrets) {
    await f.rotate(s);
    ledger.sent();
  }
  progress(S, 'three secrets rotated (30 restarts due); waiting for the first restart to kill -9 the operator');
  await killed;
  await first.kill9();
  await outputDrained(first);
  const doneBeforeKill = countLogs(first, 'workload restarted');
  progress(S, `operator killed (${first.signal}) after ${doneBeforeKill} of 30 restarts`);
  // The kill must really land inside the batch, or this proves nothing.
  const problems = [
    ...(first.signal === 'SIGKILL' ? [] : [`the first operator ended with ${first.exitCode ?? first.signal}, not SIGKILL`]),
    ...(doneBeforeKill < 30 ? [] : ['the kill came after the whole batch: inconclusive']),
  ];

  const second = await f.start(r);
  rss.track(second);
  const result = await ledger.check({
    alive: [second],
    rss,
    secretValues: f.secretValues,
    problems,
    notes: () => `killed after ${doneBeforeKill}/30 restarts; restarted operator skipped ${countLogs(second, 'workload skipped')} already-rolled`,
  });
  expect(result.problems).toEqual([]);
});
