/** The latency budget the search benches give their jobs: a quantile of random architectures on the device's LUT. */
import { buildDevicePredictor, predictLatency } from '@edgenas/latency-predictor';
import { MacroConfig, createRng, sampleArchitecture } from '@edgenas/search-space';
import { Storage, loadDeviceRows } from '@edgenas/storage';

export function quantile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

/** The `q` quantile of 200 seeded random architectures' predicted latency on the device, and their range, ms. */
export async function budgetFromLut(
  storage: Storage,
  deviceId: string,
  config: MacroConfig,
  q: number,
): Promise<{ budgetMs: number; minMs: number; maxMs: number }> {
  const deviceRows = await loadDeviceRows(storage, deviceId);
  if (!deviceRows) throw new Error('device vanished');
  const predictor = buildDevicePredictor(deviceRows, config, { now: new Date() });
  const rng = createRng(12345);
  const latencies = Array.from(
    { length: 200 },
    () =>
      predictLatency(sampleArchitecture(config, rng), config, predictor.lut, predictor.calibration).latencyMs,
  ).sort((a, b) => a - b);
  return { budgetMs: quantile(latencies, q), minMs: latencies[0], maxMs: latencies[latencies.length - 1] };
}
