import type { BenchmarkClock } from './interleaved';

/** Recorded with every measurement, so rows from a changed benchmark method can be told apart. */
export const AGENT_VERSION = 'edgenas-agent/0.1.0';

/** The version string of a measurement: CPU-clock rows say so (they estimate a dedicated core's latency). */
export function measurementAgentVersion(clock: BenchmarkClock): string {
  return clock === 'cpu' ? `${AGENT_VERSION}+cpu-clock` : AGENT_VERSION;
}
