/**
 * One training-throughput measurement in its own process (started by bench/proxy-training.ts), so that each
 * backend runs with the training processes' environment (thread counts are read when tfjs-node loads) and its
 * peak RSS is its own. Prints one JSON line (ThroughputSample) on stdout.
 *
 *   node dist/bench/training-throughput-child.js <backend> <architecture> <batch> <steps> <warmup> [--profile]
 */
import * as tf from '@tensorflow/tfjs-core';
import { getMacroConfig, parseArchitecture, withGeometry } from '@edgenas/search-space';
import { lowerArchitecture } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import {
  BackendPreference,
  createOptimizer,
  loadDataset,
  selectBackend,
  trainingStep,
} from '@edgenas/proxy-trainer';

export interface ThroughputSample {
  readonly backend: string;
  readonly reason: string;
  readonly steps: number;
  readonly wallImagesPerSecond: number;
  readonly cpuImagesPerSecond: number;
  readonly peakRssBytes: number;
  /** With --profile on tensorflow: ms per step inside TensorFlow ops, by op, and in all of them. */
  readonly profile?: {
    readonly ops: Record<string, { calls: number; ms: number }>;
    readonly nativeMs: number;
  };
}

interface ExecutingBinding {
  executeOp(name: string, ...rest: unknown[]): unknown;
}

/** Wraps the tfjs-node binding's executeOp to time every TensorFlow op (per step averages). */
function timeNativeOps(): () => ThroughputSample['profile'] {
  const backend = tf.backend() as unknown as { binding: ExecutingBinding };
  const real = backend.binding;
  const ops: Record<string, { calls: number; ms: number }> = {};
  let nativeMs = 0;
  const timed = Object.create(real) as ExecutingBinding;
  Object.defineProperty(timed, 'executeOp', {
    value: (name: string, ...rest: unknown[]) => {
      const t0 = performance.now();
      const out = real.executeOp(name, ...rest);
      const ms = performance.now() - t0;
      nativeMs += ms;
      const entry = (ops[name] ??= { calls: 0, ms: 0 });
      entry.calls++;
      entry.ms += ms;
      return out;
    },
  });
  Object.defineProperty(backend, 'binding', { value: timed, writable: true });
  return () => ({ ops, nativeMs });
}

async function main(): Promise<void> {
  const [preference, architecture, batchArg, stepsArg, warmupArg] = process.argv.slice(2);
  const profile = process.argv.includes('--profile');
  const [batchSize, steps, warmup] = [Number(batchArg), Number(stepsArg), Number(warmupArg)];
  const backend = await selectBackend(preference as BackendPreference);
  const data = loadDataset(
    { kind: 'fashion-mnist', trainSize: batchSize, valSize: 1 },
    { seed: 1, resolution: 28 },
  );
  const config = withGeometry(getMacroConfig('proxy-28'), {
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
  });
  const graph = lowerArchitecture(parseArchitecture(architecture, config), config);
  const net = buildTfjsNetwork(graph, initWeights(graph, 1));
  const optimizer = createOptimizer(net.variables, { kind: 'adam' });
  const x = tf.tensor4d(data.train.images, [batchSize, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 10) as tf.Tensor2D;
  // As trainProxy trains (BN statistics are recalibrated before evaluation, not updated every step).
  const step = () => trainingStep(net, optimizer, x, y, 1e-3, 0, { updateStatistics: false });
  for (let i = 0; i < warmup; i++) step();
  const profiled = profile && backend.name === 'tensorflow' ? timeNativeOps() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const report = profiled?.();
  const sample: ThroughputSample = {
    backend: backend.name,
    reason: backend.reason,
    steps,
    wallImagesPerSecond: (steps * batchSize * 1000) / wallMs,
    cpuImagesPerSecond: (steps * batchSize * 1e6) / (cpu.user + cpu.system),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(report
      ? {
          profile: {
            nativeMs: report.nativeMs / steps,
            ops: Object.fromEntries(
              Object.entries(report.ops).map(([k, v]) => [k, { calls: v.calls / steps, ms: v.ms / steps }]),
            ),
          },
        }
      : {}),
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
