/**
 * npm run demo: the original proof of concept's walkthrough, on the local stack.
 *
 *   prerequisites (CloudFormation in the AWS emulator) → helm install → the sample
 *   secret, mapping and nginx Deployment → put-secret-value → the operator logs the
 *   rotation and restarts the Deployment → the old pod terminates, a new one runs →
 *   what the mapping recorded → (on the real node) the sample app's pods serve the new
 *   secret's fingerprint → clean up everything.
 *
 * Where the stack has a real node, the operator runs there in-cluster from its image
 * (npm run image, helm install) and its log is `kubectl logs -f`; otherwise a local
 * process stands in for the container.
 *
 *   npm run demo                  all of it, then clean up
 *   npm run demo -- --keep        leave everything running to explore (prints how)
 *   npm run demo -- --rotate      after --keep: change the secret again and watch
 *   npm run demo -- --cleanup     after --keep or an interrupted run: remove what the demo made
 *   npm run demo -- --eso         the External Secrets Operator flow (no mapping: discovery), then clean up
 *   npm run demo -- --bad-secret  a value the apps refuse halts at the canary, a good one rolls all (real node), then clean up
 *
 * The stack lives in $STACK_DIR (default .stack/). A stack that was already up is
 * used and left up; one the demo started is taken down again. What the demo made is
 * recorded in $STACK_DIR/demo.json as it goes, so --cleanup can always finish the job.
 *
 * This file is the entry (flags, the order of the steps); the steps are in demo/:
 * setup.ts (stack, operator, samples), steps.ts (the change and its result),
 * teardown.ts (clean-up), with state.ts (demo.json), interrupt.ts (signals, deadlines)
 * and samples.ts (the example manifests) beside them.
 */
import './quiet-sdk-warning';
import { e2eContext } from './kit/context';
import { errorMessage } from '../operator/src/core/log';
import { METRIC_PREFIX } from '../operator/src/core/metrics';
import { FAKE_CREDENTIALS } from './stack/aws';
import { stackDir, stackHealth, stackPaths } from './stack';
import { isRunning } from './stack/process';
import { LogFollower } from './demo/operatorLog';
import { bold, command, green, note, println, red, seconds } from './demo/ui';
import { OPERATOR_NAMESPACE, loadState, saveState, shown, stackDirPrefix, type DemoState } from './demo/state';
import { begin, checkpoint, failed, onSignal, wasInterrupted } from './demo/interrupt';
import { readSamples, printOperatorLine } from './demo/samples';
import { upStack, installOperator, createSamples } from './demo/setup';
import { rotateAndWatch, showResult, fingerprintApp } from './demo/steps';
import { cleanup } from './demo/teardown';
import { ESO_DEMO_VALUES, createEsoSamples, rotateThroughEso, startExternalSecrets } from './demo/eso';
import { BAD_SECRET_DEMO_VALUES, badThenGood, createCanaryNamespace, createFleet } from './demo/badSecret';

// The emulator takes any credentials; a developer's real ones must never be used.
process.env.AWS_ACCESS_KEY_ID = FAKE_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = FAKE_CREDENTIALS.secretAccessKey;
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// ------------------------------------------------------------------ commands

function printKept(state: DemoState): void {
  begin('Kept running');
  const operator = state.operator?.inCluster ? 'the operator pod' : `the operator (pid ${state.operator?.pid})`;
  note(`Everything stays up: ${state.stackStarted ? 'the stack, ' : ''}the release, ${operator}, the secret, the mapping and the Deployment. Explore:`);
  command(`. ${shown(stackPaths().envFile)}    # KUBECONFIG and the emulator's AWS_* for kubectl and aws; helm is $HELM_BIN`);
  command('kubectl get srm -A');
  command(`kubectl get pods --selector ${readSamples().selector} --watch`);
  command(`tail -f ${shown(state.operator!.logFile)}    # the operator's JSON log`);
  if (state.operator?.inCluster) {
    command(`kubectl -n ${OPERATOR_NAMESPACE} get pods -o wide    # the operator's pod on the real node`);
    command(`kubectl get pods -l app=fingerprint-app -o wide    # the sample app; curl http://<pod IP>:8080/ for its fingerprint`);
  } else {
    command(`curl -s http://127.0.0.1:${state.operator!.httpPort}/metrics | grep ^${METRIC_PREFIX}`);
  }
  command(`${stackDirPrefix()}npm run demo -- --rotate    # change the secret again and watch the roll`);
  note('Clean up later (the operator process is the demo\'s: use this rather than stack:down alone):');
  command(`${stackDirPrefix()}npm run demo -- --cleanup`);
}

/**
 * A new demo's state, recorded before anything is made; undefined (having said why) while
 * an earlier demo, kept or interrupted, is still up: both walkthroughs use the one demo.json.
 */
function freshState(): DemoState | undefined {
  const previous = loadState();
  if (previous) {
    println(red(`A demo started at ${previous.startedAt} is still up in ${shown(stackDir())} (kept or interrupted).`));
    println(red(`Clean it up first: ${stackDirPrefix()}npm run demo -- --cleanup`));
    return undefined;
  }
  const state: DemoState = { startedAt: new Date().toISOString(), stackStarted: false };
  saveState(state);
  return state;
}

/** --eso: stack → ESO → the operator with discovery on → an ExternalSecret and its consumer → the change → clean up. */
async function runEsoDemo(): Promise<number> {
  const began = Date.now();
  const state = freshState();
  if (!state) return 1;
  println(bold('secrets-rotation-operator with External Secrets Operator: event-driven sync and restart, no mapping to write'));
  let follower: LogFollower | undefined;
  let ok = true;
  try {
    await upStack(state);
    const ctx = e2eContext();
    await startExternalSecrets(ctx, state);
    checkpoint();
    follower = await installOperator(ctx, state, ESO_DEMO_VALUES);
    checkpoint();
    const samples = await createEsoSamples(ctx, state);
    checkpoint();
    await rotateThroughEso(ctx, samples, follower);
  } catch (err) {
    ok = false;
    failed(err, follower);
  }
  const cleaned = await cleanup(state, follower);
  println();
  if (ok && cleaned) println(green(`ESO demo done in ${seconds(Date.now() - began)}; everything cleaned up.`));
  return ok && cleaned ? 0 : 1;
}

/** --bad-secret: stack → the operator → four apps sharing a secret, one the canary → a bad value halts, a good one rolls all → clean up. */
async function runBadSecretDemo(): Promise<number> {
  const began = Date.now();
  const state = freshState();
  if (!state) return 1;
  println(bold('secrets-rotation-operator: a bad secret version stops at the canary; the rest keep serving'));
  let follower: LogFollower | undefined;
  let ok = true;
  try {
    await upStack(state);
    const ctx = e2eContext();
    await createCanaryNamespace(ctx, state);
    follower = await installOperator(ctx, state, BAD_SECRET_DEMO_VALUES);
    checkpoint();
    const fleet = await createFleet(ctx, state);
    checkpoint();
    await badThenGood(ctx, fleet, follower);
  } catch (err) {
    ok = false;
    failed(err, follower);
  }
  const cleaned = await cleanup(state, follower);
  println();
  if (ok && cleaned) println(green(`Bad-secret demo done in ${seconds(Date.now() - began)}; everything cleaned up.`));
  return ok && cleaned ? 0 : 1;
}

async function runDemo(keep: boolean): Promise<number> {
  const began = Date.now();
  const state = freshState();
  if (!state) return 1;
  println(bold('secrets-rotation-operator: the proof of concept\'s walkthrough, on a local stack'));
  note('A real Kubernetes control plane with a fake (kwok) node, and moto in place of AWS. The $ lines are what you would type against a real cluster and account (examples/README.md).');
  let follower: LogFollower | undefined;
  let ok = true;
  try {
    await upStack(state);
    const ctx = e2eContext();
    const samples = readSamples();
    follower = await installOperator(ctx, state);
    checkpoint();
    await createSamples(ctx, state, samples);
    checkpoint();
    const rotation = await rotateAndWatch(ctx, samples, follower);
    checkpoint();
    await showResult(ctx, samples, rotation);
    checkpoint();
    if (ctx.env.STACK_REAL_NODE) await fingerprintApp(ctx, state, samples, follower);
    else note(`No real node in this stack (${ctx.env.STACK_REAL_NODE_SKIP_REASON}): the sample app's part is left out.`);
  } catch (err) {
    ok = false;
    failed(err, follower);
  }
  if (ok && keep && !wasInterrupted()) {
    follower?.stop();
    printKept(state);
    println();
    println(green(`Demo done in ${seconds(Date.now() - began)}; kept running.`));
    return 0;
  }
  const cleaned = await cleanup(state, follower);
  println();
  if (ok && cleaned) println(green(`Demo done in ${seconds(Date.now() - began)}; everything cleaned up.`));
  return ok && cleaned ? 0 : 1;
}

async function runRotate(): Promise<number> {
  const state = loadState();
  if (!state?.operator || !isRunning(state.operator.pid, state.operator.startTime) || !(await stackHealth()).healthy) {
    println(red(`No demo is running in ${shown(stackDir())}: start one with ${stackDirPrefix()}npm run demo -- --keep`));
    return 1;
  }
  const ctx = e2eContext();
  const samples = readSamples();
  const follower = new LogFollower(state.operator.logFile, printOperatorLine).start();
  try {
    await showResult(ctx, samples, await rotateAndWatch(ctx, samples, follower));
    return 0;
  } catch (err) {
    failed(err, follower);
    return 1;
  } finally {
    follower.stop();
  }
}

async function runCleanup(): Promise<number> {
  const state = loadState();
  if (!state) {
    println(`No demo to clean up in ${shown(stackDir())}.`);
    return 0;
  }
  return (await cleanup(state)) ? 0 : 1;
}

const USAGE = `Usage: npm run demo [-- --keep | --rotate | --cleanup | --eso | --bad-secret]
  (no flag)   the walkthrough on the local stack, then clean up everything
  --keep      leave everything running to explore
  --rotate    after --keep: change the secret again and watch the roll
  --cleanup   after --keep or an interrupted run: remove what the demo made
  --eso       the External Secrets Operator flow: ESO syncs when the operator asks, one roll, no mapping; then clean up
  --bad-secret  (real node) four apps share a secret, one the canary: a value they refuse halts the rollout at
              the canary while the rest keep serving; a good value then rolls all four; then clean up
The stack lives in $STACK_DIR (default .stack/).`;

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  const known = ['--keep', '--rotate', '--cleanup', '--eso', '--bad-secret', '--help', '-h'];
  const unknown = argv.filter((a) => !known.includes(a));
  if (unknown.length > 0 || flags.size > 1) {
    println(unknown.length ? `unknown argument: ${unknown.join(' ')}` : 'one flag at a time');
    println(USAGE);
    return 2;
  }
  if (flags.has('--help') || flags.has('-h')) {
    println(USAGE);
    return 0;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (flags.has('--cleanup')) return runCleanup();
  if (flags.has('--rotate')) return runRotate();
  if (flags.has('--eso')) return runEsoDemo();
  if (flags.has('--bad-secret')) return runBadSecretDemo();
  return runDemo(flags.has('--keep'));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    println(red(`demo: ${errorMessage(err)}`));
    process.exit(1);
  },
);
