/**
 * The six benchmark scenarios. Each builds its fixtures (setup, timed apart), then
 * measures; every figure comes from outside the operator (the counting proxies, a
 * watch, /proc) or from its /metrics. Sizes are parameters so a smoke run is cheap.
 */
export { FULL, SMOKE, met, type ScenarioResult, type Sizes } from './result';
export { latency } from './latency';
export { fanout } from './fanout';
export { scale } from './scale';
export { burst } from './burst';
export { cost } from './cost';
export { paced } from './paced';
