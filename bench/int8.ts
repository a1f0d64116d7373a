/**
 * INT8 post-training quantization on this machine, float and INT8 files measured in the same run:
 *  1. FBNet-B at 224×224×3 (seeded, untrained weights): file sizes and ratio, the ops ONNX Runtime runs after
 *     its QDQ fusions, and latency float vs INT8 with one thread — interleaved rounds (float, INT8, float, …),
 *     the estimate being the median over rounds of each round's 10th percentile; wall clock and process CPU
 *     time, each in its own interleaved pass.
 *  2. Unless --train-steps 0: FBNet-B on the proxy geometry trained on Fashion-MNIST, quantized with training
 *     images as calibration, then both files' top-1 on the validation split in ONNX Runtime (both calibration
 *     methods). Untrained weights say nothing about accuracy; this part does.
 *
 *   npm run bench:int8 -- [--calibration 16] [--rounds 9] [--threads 1] [--train-steps 300] [--seed 1]
 */
import * as os from 'node:os';
import { Command } from 'commander';
import { int } from './options';
import { floatOverInt8, measureFloatVsInt8 } from './float-int8-latency';
import * as tf from '@tensorflow/tfjs-core';
import {
  FBNET_224,
  MacroConfig,
  PROXY_28,
  baselineArchitectures,
  createRng,
  formatArchitecture,
  withGeometry,
} from '@edgenas/search-space';
import { NetworkGraph, lowerArchitecture } from '@edgenas/search-space/graph';
import { NetworkWeights, initWeights } from '@edgenas/search-space/weights';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import { describeDevice, ortVersion } from '@edgenas/device-benchmark';
import {
  CALIBRATION_METHODS,
  QuantizedModel,
  evaluateOnnx,
  ortOptimisedOps,
  quantizeModel,
} from '@edgenas/quantizer';
import {
  Dataset,
  cosineLearningRate,
  createOptimizer,
  createRandom,
  gatherBatch,
  loadFashionMnist,
  recalibrateBatchNorm,
  selectBackend,
  shuffledIndices,
  splitToNchw,
  trainingStep,
} from '@edgenas/proxy-trainer';

interface Flags {
  calibration: number;
  rounds: number;
  repeats: number;
  threads: number;
  trainSteps: number;
  seed: number;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const ms = (x: number) => `${x.toFixed(2).padStart(7)} ms`;
const pct = (x: number | undefined) => (x === undefined ? '  n/a' : `${(100 * x).toFixed(1).padStart(5)} %`);
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function uniformImages(graph: NetworkGraph, count: number, seed: number): Float32Array {
  const s = graph.inputShape;
  const rng = createRng(seed);
  return Float32Array.from({ length: count * s.channels * s.height * s.width }, () => rng.next() * 2 - 1);
}

function fbnetB(config: MacroConfig): { graph: NetworkGraph; blocks: string } {
  const baseline = baselineArchitectures(config).find((b) => b.name === 'fbnet-b');
  if (!baseline) throw new Error(`FBNet-B does not fit ${config.name}`);
  return {
    graph: lowerArchitecture(baseline.architecture, config),
    blocks: formatArchitecture(baseline.architecture),
  };
}

function printReport(q: QuantizedModel, note: string): void {
  const r = q.report;
  console.log(
    `  calibration: ${r.calibrationImages} images, ${r.heldOutImages} held out; ${r.activationTensors} activation ` +
      `tensors; weights ±${r.weightQuantMax}; ${note}`,
  );
  for (const c of r.candidates) {
    console.log(
      `  ${c.method.padEnd(10)} held-out SQNR ${c.sqnrDb.toFixed(1).padStart(5)} dB, top-1 agreement ` +
        `${pct(c.top1Agreement)}${c.top1Accuracy === undefined ? '' : `, top-1 ${pct(c.top1Accuracy)}`}` +
        `${c.method === q.method ? `   ← kept (${r.chosenBy})` : ''}`,
    );
  }
}

async function latency(float: Uint8Array, int8: Uint8Array, dims: number[], flags: Flags): Promise<void> {
  const results = await measureFloatVsInt8(float, int8, dims, flags);
  console.log(
    `\n  latency, ${flags.threads} thread(s), ${flags.rounds} interleaved rounds × ${flags.repeats} runs:`,
  );
  console.log('                 wall estimate   wall median    CPU estimate    CPU median');
  (['float', 'INT8'] as const).forEach((label, i) => {
    const w = results.wall[i];
    const c = results.cpu[i];
    console.log(
      `  ${label.padEnd(6)}    ${ms(w.estimateMs)}    ${ms(w.medianMs)}    ${ms(c.estimateMs)}    ${ms(c.medianMs)}`,
    );
  });
  console.log(
    `  float / INT8: ${floatOverInt8(results, 'wall').toFixed(2)}× (wall), ${floatOverInt8(results, 'cpu').toFixed(2)}× (CPU)`,
  );
}

async function deploymentPart(flags: Flags): Promise<void> {
  const config = FBNET_224;
  const { graph, blocks } = fbnetB(config);
  console.log(
    `\n1. FBNet-B at ${config.input.height}×${config.input.width}×${config.input.channels} (${config.name})`,
  );
  console.log(`  ${blocks}`);
  const weights = initWeights(graph, flags.seed);
  const float = buildOnnxModel(graph, weights);
  const started = performance.now();
  const q = await quantizeModel(float, uniformImages(graph, flags.calibration, flags.seed + 1), {
    threads: flags.threads,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `  file: float ${mb(q.report.floatBytes)}, INT8 ${mb(q.report.int8Bytes)}, ratio ${q.report.sizeRatio.toFixed(2)}× ` +
      `(quantized in ${seconds} s)`,
  );
  printReport(q, 'seeded untrained weights and uniform images: the SQNR says little about a trained model');
  const ops = await ortOptimisedOps(q.int8Onnx);
  console.log(
    `  ORT runs: ${Object.entries(ops)
      .map(([op, n]) => `${n} ${op}`)
      .join(', ')}`,
  );
  const s = graph.inputShape;
  await latency(float, q.int8Onnx, [1, s.channels, s.height, s.width], flags);
}

/** Trains FBNet-B on the proxy geometry (Adam, cosine schedule, BN recalibrated) and returns its weights. */
async function trainProxyNetwork(graph: NetworkGraph, data: Dataset, flags: Flags): Promise<NetworkWeights> {
  const backend = await selectBackend('auto');
  console.log(`  training ${flags.trainSteps} steps × 64 on ${backend.name}`);
  const net = buildTfjsNetwork(graph, initWeights(graph, flags.seed));
  const optimizer = createOptimizer(net.variables, { kind: 'adam' });
  const random = createRandom(flags.seed);
  const pixels = data.height * data.width * data.channels;
  const batch = 64;
  const perEpoch = Math.floor(data.train.count / batch);
  let order = shuffledIndices(data.train.count, random);
  for (let step = 0; step < flags.trainSteps; step++) {
    if (step > 0 && step % perEpoch === 0) order = shuffledIndices(data.train.count, random);
    const at = (step % perEpoch) * batch;
    const [images, labels] = gatherBatch(data.train, order.subarray(at, at + batch), pixels);
    tf.tidy(() => {
      const x = tf.tensor4d(images, [batch, data.height, data.width, data.channels]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes) as tf.Tensor2D;
      const lr = cosineLearningRate(
        step,
        flags.trainSteps,
        1e-2,
        Math.min(100, Math.round(flags.trainSteps * 0.05)),
      );
      trainingStep(net, optimizer, x, y, lr, 0, { updateStatistics: false });
    });
  }
  recalibrateBatchNorm(net, data, 8, batch, flags.seed);
  const weights = net.exportWeights();
  net.dispose();
  return weights;
}

async function trainedPart(flags: Flags): Promise<void> {
  const data = loadFashionMnist({ trainSize: 8000, valSize: 2000 }, { seed: flags.seed });
  const config = withGeometry(PROXY_28, {
    input: { height: data.height, width: data.width, channels: data.channels },
    classes: data.classes,
  });
  const { graph } = fbnetB(config);
  console.log(`\n2. FBNet-B on ${config.name}, Fashion-MNIST (8000 train, 2000 val)`);
  const started = performance.now();
  const weights = await trainProxyNetwork(graph, data, flags);
  console.log(`  trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const float = buildOnnxModel(graph, weights);
  const calibrationCount = 256;
  const calibration = splitToNchw(data.train, data, calibrationCount);
  const labels = data.train.labels.subarray(0, calibrationCount);
  const val = splitToNchw(data.val, data);
  const floatTop1 = await evaluateOnnx(float, val, data.val.labels);
  console.log(`  float: ${mb(float.length)}, validation top-1 ${pct(floatTop1.top1)}`);
  for (const method of CALIBRATION_METHODS) {
    const q = await quantizeModel(float, calibration, { method, labels });
    const top1 = await evaluateOnnx(q.int8Onnx, val, data.val.labels);
    console.log(
      `  INT8 ${method.padEnd(10)}: ${mb(q.report.int8Bytes)} (${q.report.sizeRatio.toFixed(2)}×), validation top-1 ${pct(top1.top1)} ` +
        `(${((top1.top1 - floatTop1.top1) * 100).toFixed(1)} points), held-out SQNR ` +
        `${q.report.candidates.find((c) => c.method === method)!.sqnrDb.toFixed(1)} dB`,
    );
  }
  const auto = await quantizeModel(float, calibration, { labels });
  console.log(`  default (auto) keeps: ${auto.method}`);
}

async function main(): Promise<void> {
  const flags = new Command()
    .option('--calibration <n>', 'calibration images at 224 (a quarter held out)', int(2, 1000), 16)
    .option('--rounds <n>', 'interleaved latency rounds', int(1, 100), 9)
    .option('--repeats <n>', 'timed runs per model per round', int(1, 1000), 5)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int(1, 64), 1)
    .option('--train-steps <n>', 'training steps of the proxy model (0: skip part 2)', int(0, 100000), 300)
    .option('--seed <n>', 'seed of weights, images and data split', int(0, 2 ** 31), 1)
    .parse()
    .opts<Flags>();
  const device = describeDevice('bench', flags.threads);
  console.log(`INT8 bench: ${device.hardware.cpuModel}, ${device.hardware.cores} cores, ORT ${ortVersion()}`);
  console.log(`load average at start: ${load()} (shared machine: latencies include other processes' load)`);
  await deploymentPart(flags);
  if (flags.trainSteps > 0) await trainedPart(flags);
  console.log(`\nload average at end: ${load()}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
