import type { DevicePrecision } from '@edgenas/contracts';
import type { BenchmarkClock } from './interleaved';

/** Recorded with every measurement, so rows from a changed benchmark method can be told apart. */
export const AGENT_VERSION = 'edgenas-agent/0.1.0';

/**
 * The version string of a measurement: CPU-clock rows say so (they estimate a dedicated core's latency), and so do
 * rows of quantized models (`+int8`).
 */
export function measurementAgentVersion(clock: BenchmarkClock, precision: DevicePrecision = 'fp32'): string {
  return `${AGENT_VERSION}${clock === 'cpu' ? '+cpu-clock' : ''}${precision === 'int8' ? '+int8' : ''}`;
}
