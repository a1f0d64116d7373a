/**
 * Proxy training throughput and quality, in one run:
 *  1. Training images/s of the reference architecture at the proxy geometry (Fashion-MNIST, 28x28x1, batch 64)
 *     on the pure-JS cpu backend (a few steps), on wasm with the project's gradient kernels, and on tfjs-node
 *     when installed; ratios against cpu. Wall-clock and process-CPU-time figures (the machine is shared).
 *  2. The reference architecture trained on Fashion-MNIST to ≥ 85 % validation top-1 (budget and time printed).
 *  3. Kendall tau between short-budget proxy accuracy and 4x-budget accuracy over random architectures, and
 *     between two short runs of other seeds (the proxy's own repeatability, a ceiling for the first figure)
 *     and, with --tau-long-repeat, between two long runs (the reference ranking's repeatability).
 * Trainings of 2 and 3 run through `trainInChildProcess`, as the worker does.
 *
 *   npm run build && node dist/bench/proxy-training.js [--skip throughput,accuracy,tau] [--cpu-steps 2] [--tau-archs 10] …
 */
import { kendallTau } from '@edgenas/latency-predictor';
import { cpus } from 'node:os';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import {
  createRng,
  formatArchitecture,
  getMacroConfig,
  parseArchitecture,
  sampleArchitecture,
  withGeometry,
} from '@edgenas/search-space';
import { graphCost, lowerArchitecture } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import {
  BackendName,
  createOptimizer,
  ProxyTrainingRequest,
  ProxyTrainingResult,
  LIGHT_ARCHITECTURE,
  REFERENCE_ARCHITECTURE,
  loadDataset,
  selectBackend,
  trainInChildProcess,
  trainingStep,
} from '@edgenas/proxy-trainer';

interface Options {
  architecture: string;
  accuracyArchitecture: string;
  batchSize: number;
  cpuSteps: number;
  wasmSteps: number;
  accuracyTrain: number;
  accuracyVal: number;
  accuracyEpochs: number;
  tauArchs: number;
  tauShortSteps: number;
  tauBatchSize: number;
  tauFactor: number;
  tauTrain: number;
  tauVal: number;
  tauConcurrency: number;
  tauLongRepeat: boolean;
  skip: string;
  seed: number;
}

interface Throughput {
  backend: BackendName;
  reason: string;
  steps: number;
  wallImagesPerSecond: number;
  cpuImagesPerSecond: number;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const fmt = (x: number, digits = 1) => x.toFixed(digits);

/** Images/s of full training steps (forward, backward, Adam-style update) after `warmup` steps. */
async function measureThroughput(
  preference: 'cpu' | 'wasm' | 'tensorflow',
  architecture: string,
  batchSize: number,
  steps: number,
  warmup: number,
): Promise<Throughput | undefined> {
  const backend = await selectBackend(preference);
  if (backend.name !== preference) return undefined;
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
  const step = () => trainingStep(net, optimizer, x, y, 1e-3);
  for (let i = 0; i < warmup; i++) step();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  tf.dispose([x, y]);
  optimizer.dispose();
  net.dispose();
  return {
    backend: backend.name,
    reason: backend.reason,
    steps,
    wallImagesPerSecond: (steps * batchSize * 1000) / wallMs,
    cpuImagesPerSecond: (steps * batchSize * 1000) / cpuMs,
  };
}

/** Runs `tasks` with at most `concurrency` at once, results in order. */
async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    }),
  );
  return results;
}

async function main(): Promise<void> {
  const opts = new Command()
    .option(
      '--architecture <arch>',
      'reference architecture for throughput (proxy-28 string)',
      REFERENCE_ARCHITECTURE,
    )
    .option(
      '--accuracy-architecture <arch>',
      'reference architecture for the accuracy run',
      LIGHT_ARCHITECTURE,
    )
    .option('--batch-size <n>', 'training batch size', Number, 64)
    .option('--cpu-steps <n>', 'measured cpu-backend steps (after one warm-up step)', Number, 2)
    .option('--wasm-steps <n>', 'measured wasm / tfjs-node steps (after three warm-up steps)', Number, 20)
    .option('--accuracy-train <n>', 'Fashion-MNIST training images for the accuracy run', Number, 50000)
    .option('--accuracy-val <n>', 'Fashion-MNIST validation images for the accuracy run', Number, 10000)
    .option('--accuracy-epochs <n>', 'epochs of the accuracy run', Number, 1.5)
    .option('--tau-archs <n>', 'random architectures for the rank correlation', Number, 10)
    .option('--tau-short-steps <n>', 'short proxy budget in steps', Number, 125)
    .option('--tau-batch-size <n>', 'batch size of the rank correlation runs', Number, 64)
    .option('--tau-factor <n>', 'long budget = factor x short', Number, 4)
    .option('--tau-train <n>', 'training images for the rank correlation runs', Number, 8000)
    .option('--tau-val <n>', 'validation images for the rank correlation runs', Number, 2000)
    .option(
      '--tau-concurrency <n>',
      'child processes at once',
      Number,
      Math.max(1, Math.min(2, cpus().length)),
    )
    .option(
      '--tau-long-repeat',
      "also repeat each long run with another seed: the reference ranking's own repeatability",
      false,
    )
    .option('--skip <parts>', 'comma-separated parts to skip: throughput,accuracy,tau', '')
    .option('--seed <n>', 'seed', Number, 1)
    .parse(process.argv)
    .opts<Options>();
  const skip = new Set(opts.skip.split(',').filter(Boolean));
  const started = performance.now();
  const config = getMacroConfig('proxy-28');
  const reference = parseArchitecture(opts.architecture, config);
  const refCost = graphCost(lowerArchitecture(reference, config));
  console.log(
    `proxy geometry: ${config.name} (28x28x1, stem ${config.stem.channels}/s${config.stem.stride}, stages ` +
      `${config.stages.map((s) => `${s.channels}x${s.repeats}${s.firstStride === 2 ? 's2' : ''}`).join(' ')}, head ${config.head.channels})`,
  );
  console.log(`reference architecture: ${formatArchitecture(reference, config)}`);
  console.log(
    `  ${refCost.params} params, ${(refCost.macs / 1e6).toFixed(2)} M MACs per image; batch ${opts.batchSize}`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; shared with other work, so wall-clock figures are noisy — CPU-time figures (images per second of this process's CPU time) are steadier`,
  );

  if (!skip.has('throughput')) {
    console.log('\n== 1. training throughput (same architecture, same batch) ==');
    const results: Throughput[] = [];
    for (const [pref, steps, warmup] of [
      ['tensorflow', opts.wasmSteps, 3],
      ['wasm', opts.wasmSteps, 3],
      ['cpu', opts.cpuSteps, 1],
    ] as const) {
      const r = await measureThroughput(pref, opts.architecture, opts.batchSize, steps, warmup);
      if (!r) {
        console.log(`${pref.padEnd(10)} not available`);
        continue;
      }
      results.push(r);
      console.log(
        `${r.backend.padEnd(10)} ${fmt(r.wallImagesPerSecond).padStart(8)} img/s wall  ${fmt(r.cpuImagesPerSecond).padStart(8)} img/s cpu-time  (${r.steps} steps)`,
      );
    }
    const cpu = results.find((r) => r.backend === 'cpu');
    if (cpu) {
      for (const r of results.filter((x) => x.backend !== 'cpu')) {
        console.log(
          `ratio ${r.backend}/cpu: ${fmt(r.wallImagesPerSecond / cpu.wallImagesPerSecond, 0)}x wall, ` +
            `${fmt(r.cpuImagesPerSecond / cpu.cpuImagesPerSecond, 0)}x cpu-time (target ≥ 100x)`,
        );
      }
    }
  }

  if (!skip.has('accuracy')) {
    console.log('\n== 2. reference architecture on Fashion-MNIST ==');
    const accuracyArch = parseArchitecture(opts.accuracyArchitecture, config);
    const accuracyCost = graphCost(lowerArchitecture(accuracyArch, config));
    console.log(
      `architecture: ${formatArchitecture(accuracyArch, config)} (${accuracyCost.params} params, ${(accuracyCost.macs / 1e6).toFixed(2)} M MACs)`,
    );
    const req: ProxyTrainingRequest = {
      architecture: opts.accuracyArchitecture,
      dataset: { kind: 'fashion-mnist', trainSize: opts.accuracyTrain, valSize: opts.accuracyVal },
      epochs: opts.accuracyEpochs,
      batchSize: opts.batchSize,
      resolution: 28,
      seed: opts.seed,
      progressIntervalMs: 30000,
    };
    console.log(
      `budget: ${opts.accuracyEpochs} epochs of ${opts.accuracyTrain} images, batch ${opts.batchSize}, Adam 1e-2 cosine, BN momentum 0.9 + recalibration; validation ${opts.accuracyVal} held-out images`,
    );
    const r = await trainInChildProcess(req, {
      onProgress: (p) =>
        console.log(
          `  step ${p.step}/${p.totalSteps} loss ${fmt(p.loss, 3)} ${fmt(p.imagesPerSecond)} img/s`,
        ),
    });
    console.log(
      `val top-1 ${fmt(100 * r.valAccuracy, 2)} % (train ${fmt(100 * r.trainAccuracy, 2)} %) ${r.valAccuracy >= 0.85 ? '≥' : '<'} 85 %; ` +
        `${r.steps} steps in ${fmt(r.wallTimeMs / 60000, 1)} min wall (${fmt(r.imagesPerSecond)} img/s); backend ${r.backend.name}; peak RSS ${mb(r.peakRssBytes)}`,
    );
  }

  if (!skip.has('tau')) {
    console.log('\n== 3. does the short proxy rank like a 4x longer one? ==');
    const rng = createRng(opts.seed + 1000);
    const archs = Array.from({ length: opts.tauArchs }, () =>
      formatArchitecture(sampleArchitecture(config, rng), config),
    );
    let finished = 0;
    const run = (architecture: string, steps: number, seed: number) => async () => {
      const r = await trainInChildProcess({
        architecture,
        dataset: { kind: 'fashion-mnist', trainSize: opts.tauTrain, valSize: opts.tauVal },
        epochs: 1,
        steps,
        batchSize: opts.tauBatchSize,
        resolution: 28,
        seed,
      });
      finished++;
      console.log(
        `  [${finished}/${tasks.length}] ${steps} steps, seed ${seed}: ${fmt(100 * r.valAccuracy)} % in ${fmt(r.wallTimeMs / 1000, 0)} s (${fmt(r.imagesPerSecond)} img/s)  ${architecture}`,
      );
      return r;
    };
    const longSteps = opts.tauShortSteps * opts.tauFactor;
    const tauStarted = performance.now();
    // Per architecture: the short proxy, the same with another seed, the long run (and its repeat).
    const perArch = opts.tauLongRepeat ? 4 : 3;
    const tasks = archs.flatMap((a) => [
      run(a, opts.tauShortSteps, opts.seed),
      run(a, opts.tauShortSteps, opts.seed + 1),
      run(a, longSteps, opts.seed),
      ...(opts.tauLongRepeat ? [run(a, longSteps, opts.seed + 1)] : []),
    ]);
    const results: ProxyTrainingResult[] = await pool(tasks, opts.tauConcurrency);
    const accuracies = (k: number) => archs.map((_, i) => results[perArch * i + k].valAccuracy);
    const [short, shortRepeat, long] = [accuracies(0), accuracies(1), accuracies(2)];
    const longRepeat = opts.tauLongRepeat ? accuracies(3) : undefined;
    console.log('  short (other seed) → long (other seed)   short img/s  architecture');
    archs.forEach((a, i) =>
      console.log(
        `  ${fmt(100 * short[i]).padStart(5)} % (${fmt(100 * shortRepeat[i]).padStart(5)} %) → ${fmt(100 * long[i]).padStart(5)} %` +
          `${longRepeat ? ` (${fmt(100 * longRepeat[i]).padStart(5)} %)` : ''}  ${fmt(results[perArch * i].imagesPerSecond).padStart(6)}  ${a}`,
      ),
    );
    const budget = `batch ${opts.tauBatchSize}, ${opts.tauTrain} training images, ${opts.tauVal} validation images`;
    console.log(
      `Kendall tau(short ${opts.tauShortSteps} steps, long ${longSteps} steps) = ${kendallTau(short, long).toFixed(3)} over ${archs.length} random architectures (${budget})`,
    );
    console.log(
      `Kendall tau(short, short with another seed) = ${kendallTau(short, shortRepeat).toFixed(3)} (the proxy's repeatability)`,
    );
    if (longRepeat) {
      console.log(
        `Kendall tau(long, long with another seed) = ${kendallTau(long, longRepeat).toFixed(3)} (the reference ranking's repeatability)`,
      );
    }
    console.log(
      `${results.length} trainings in ${fmt((performance.now() - tauStarted) / 60000, 1)} min, ${opts.tauConcurrency} processes`,
    );
    const rss = Math.max(...results.map((r) => r.peakRssBytes));
    console.log(`peak RSS of a training child: ${mb(rss)}`);
  }
  console.log(
    `\npeak RSS of this process: ${mb(process.resourceUsage().maxRSS * 1024)}; total ${fmt((performance.now() - started) / 60000, 1)} min`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
