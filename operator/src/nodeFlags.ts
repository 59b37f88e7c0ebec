/**
 * The V8 flags the operator runs with wherever it runs: the image's command
 * (Dockerfile), `npm start`, and the e2e and bench harnesses (a unit test holds the
 * first two to this list).
 *
 * V8 sizes the young generation from the machine's memory, not from the pod's limit:
 * on a 24 GiB machine it grew to 128 MiB under a first start's burst of status writes
 * (bench C, 10,000 mappings), most of the peak RSS, while the live heap stayed under
 * 70 MiB. Semi-spaces of 8 MiB keep it small (4 MiB measured no better); the cost is
 * more frequent scavenges of a heap that is mostly short-lived request garbage.
 * `--optimize-for-size` makes V8 grow the old generation more slowly and compile less
 * eagerly: in bench C it took the peak from 189 to 149 MiB and the RSS at ready from
 * 146 to 124 MiB, and the first start's CPU time did not grow (20.5 s against 23.6 s).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--optimize-for-size'];
