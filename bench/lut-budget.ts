/**
 * The search benches' device: this machine's LUT (one thread), measured and stored as a registered device, and
 * the latency budget they give their jobs: a quantile of random architectures on that LUT.
 */
import { randomUUID } from 'node:crypto';
import { BlockMeasurement } from '@edgenas/contracts';
import { DEFAULT_BENCHMARK_OPTIONS, benchmarkSignatures, describeDevice } from '@edgenas/device-benchmark';
import { buildDevicePredictor, predictLatency, spaceSignatures } from '@edgenas/latency-predictor';
import { MacroConfig, createRng, sampleArchitecture } from '@edgenas/search-space';
import { Storage, loadDeviceRows } from '@edgenas/storage';

const BENCH_DEVICE = 'bench-cpu-t1';

/** Every block signature of the space, measured on this machine with one thread. */
export function measureLut(config: MacroConfig): Promise<BlockMeasurement[]> {
  return benchmarkSignatures(spaceSignatures(config), { ...DEFAULT_BENCHMARK_OPTIONS, threads: 1 });
}

/** Registers the bench device with `rows` as its LUT; returns its id. */
export async function registerBenchDevice(storage: Storage, rows: BlockMeasurement[]): Promise<string> {
  const deviceId = randomUUID();
  await storage.devices.create({
    id: deviceId,
    name: BENCH_DEVICE,
    profile: describeDevice(BENCH_DEVICE, 1),
    tokenHash: randomUUID(),
  });
  await storage.measurements.insertBatch(deviceId, { blocks: rows });
  return deviceId;
}

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
