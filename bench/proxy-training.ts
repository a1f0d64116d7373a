/**
 * Proxy training throughput and quality, in one run:
 *  1. Training images/s of the reference architecture at the proxy geometry (Fashion-MNIST, 28x28x1, batch 64,
 *     Adam) on tfjs-node (native TensorFlow), on wasm with the project's gradient kernels and on the pure-JS cpu
 *     backend (a few steps), each in its own process with the training processes' environment (one TensorFlow
 *     thread), rounds interleaved; with --keras, native Keras from the same TensorFlow wheel beside them (same
 *     architecture, batch, optimizer, one thread; parameter counts checked). Wall-clock and CPU-time figures,
 *     ratios, peak RSS per process, what the native build cost at install. --threads compares two 1-thread
 *     processes with one 2-thread process; --profile times every TensorFlow op of a tfjs-node step.
 *  2. An architecture trained on Fashion-MNIST on tfjs-node and on wasm, side by side (budget, accuracy, time).
 *  3. Kendall tau between short-budget proxy accuracy and 4x-budget accuracy over random architectures, and
 *     between two short runs of other seeds (the proxy's own repeatability, a ceiling for the first figure)
 *     and, with --tau-long-repeat, between two long runs (the reference ranking's repeatability).
 * Trainings of 2 and 3 run through `trainInChildProcess`, as the worker does.
 *
 *   npm run build && node dist/bench/proxy-training.js [--skip throughput,accuracy,tau] [--keras] [--threads]
 *     [--profile] [--rounds 3] [--cpu-steps 2] [--tau-archs 10] …
 */
import { kendallTau } from '@edgenas/latency-predictor';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import {
  createRng,
  formatArchitecture,
  getMacroConfig,
  parseArchitecture,
  sampleArchitecture,
  withGeometry,
} from '@edgenas/search-space';
import { graphCost, lowerArchitecture } from '@edgenas/search-space/graph';
import {
  ProxyTrainingRequest,
  ProxyTrainingResult,
  LIGHT_ARCHITECTURE,
  REFERENCE_ARCHITECTURE,
  TRAINING_PROCESS_ENV,
  trainInChildProcess,
} from '@edgenas/proxy-trainer';
import type { ThroughputSample } from './training-throughput-child';

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
  rounds: number;
  keras: boolean;
  threads: boolean;
  profile: boolean;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const fmt = (x: number, digits = 1) => x.toFixed(digits);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ROOT = path.resolve(__dirname, '..', '..');

/** Runs a command to completion; its stdout's last line parsed as JSON. */
function runJson<T>(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as T);
      else
        reject(
          new Error(
            `${path.basename(args[0] ?? command)} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

/** One throughput measurement of a tfjs backend in its own process (training-process environment + `env`). */
function measureTfjs(
  backend: 'tensorflow' | 'wasm' | 'cpu',
  o: Options,
  steps: number,
  warmup: number,
  env: NodeJS.ProcessEnv = {},
  profile = false,
): Promise<ThroughputSample> {
  const entry = path.join(__dirname, 'training-throughput-child.js');
  const args = [entry, backend, o.architecture, String(o.batchSize), String(steps), String(warmup)];
  return runJson<ThroughputSample>(process.execPath, profile ? [...args, '--profile'] : args, {
    ...TRAINING_PROCESS_ENV,
    ...env,
  });
}

interface KerasSample extends ThroughputSample {
  readonly params: number;
}

/**
 * A Python with the pinned tensorflow-cpu wheel installed, in a private venv under .tools (created on the first
 * --keras run: the wheel is fetched and hash-checked as at install, its dependencies come from PyPI).
 */
function kerasPython(): string {
  const venv = path.join(ROOT, '.tools', 'keras-venv');
  const python = path.join(venv, 'bin', 'python');
  const imports = () => {
    try {
      execFileSync(python, ['-c', 'import tensorflow'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync(python) && imports()) return python;
  // The install script's own download and hash check (plain CommonJS beside the sources).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const installer = require(path.join(ROOT, 'scripts', 'install-tfjs-node.js')) as {
    findPython(): string | undefined;
    pinnedWheel(): object | undefined;
    downloadWheel(python: string, wheel: object, dir: string): string;
  };
  const system = installer.findPython();
  const wheel = installer.pinnedWheel();
  if (!system || !wheel)
    throw new Error('no Python with pip, or no pinned TensorFlow wheel for this platform');
  console.log(`setting up ${path.relative(ROOT, venv)} for the Keras peer (once) …`);
  execFileSync(system, ['-m', 'venv', venv], { stdio: 'inherit' });
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgenas-keras-'));
  try {
    const file = installer.downloadWheel(system, wheel, tmp);
    execFileSync(python, ['-m', 'pip', 'install', '--quiet', file], { stdio: 'inherit' });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!imports()) throw new Error(`TensorFlow does not import in ${venv}`);
  return python;
}

/** The Keras peer: the same lowered graph built with Keras layers, trained with Adam on one thread. */
function measureKeras(python: string, graphFile: string, o: Options, steps: number): Promise<KerasSample> {
  return runJson<KerasSample>(
    python,
    [path.join(ROOT, 'bench', 'keras_peer.py'), graphFile, String(o.batchSize), String(steps), '3'],
    TRAINING_PROCESS_ENV,
  );
}

interface Series {
  label: string;
  samples: ThroughputSample[];
}

function summarise(s: Series): { wall: number; cpu: number; rss: number } {
  return {
    wall: median(s.samples.map((x) => x.wallImagesPerSecond)),
    cpu: median(s.samples.map((x) => x.cpuImagesPerSecond)),
    rss: Math.max(...s.samples.map((x) => x.peakRssBytes)),
  };
}

async function throughput(o: Options, refParams: number): Promise<void> {
  console.log('\n== 1. training throughput (same architecture, batch, Adam; one process per backend) ==');
  const series: Series[] = [
    { label: 'tfjs-node', samples: [] },
    { label: 'wasm', samples: [] },
  ];
  let keras: { python: string; graphFile: string; series: Series; params?: number } | undefined;
  const tmp = mkdtempSync(path.join(tmpdir(), 'edgenas-bench-'));
  try {
    if (o.keras) {
      try {
        const config = withGeometry(getMacroConfig('proxy-28'), {
          input: { height: 28, width: 28, channels: 1 },
          classes: 10,
        });
        const graph = lowerArchitecture(parseArchitecture(o.architecture, config), config);
        const graphFile = path.join(tmp, 'graph.json');
        writeFileSync(graphFile, JSON.stringify(graph));
        keras = { python: kerasPython(), graphFile, series: { label: 'keras', samples: [] } };
        series.push(keras.series);
      } catch (err) {
        console.log(`keras peer unavailable: ${(err as Error).message}`);
      }
    }
    // Rounds interleave the backends, so drift on this shared machine hits them alike.
    for (let r = 0; r < o.rounds; r++) {
      for (const s of series) {
        try {
          if (s.label === 'keras' && keras) {
            const sample = await measureKeras(keras.python, keras.graphFile, o, o.wasmSteps);
            keras.params = sample.params;
            s.samples.push(sample);
          } else {
            const sample = await measureTfjs(
              s.label === 'tfjs-node' ? 'tensorflow' : 'wasm',
              o,
              o.wasmSteps,
              3,
            );
            const expected = s.label === 'tfjs-node' ? 'tensorflow' : 'wasm';
            if (sample.backend !== expected) {
              console.log(`${s.label}: not available (${sample.reason})`);
              s.samples.length = 0;
              series.splice(series.indexOf(s), 1);
              break;
            }
            s.samples.push(sample);
          }
        } catch (err) {
          console.log(`${s.label}: ${(err as Error).message}`);
        }
      }
    }
    const cpuSample = await measureTfjs('cpu', o, o.cpuSteps, 1);
    series.push({ label: 'cpu', samples: [cpuSample] });
    console.log(
      `${o.rounds} interleaved rounds of ${o.wasmSteps} steps (after 3 warm-up steps); median of rounds; cpu: ${o.cpuSteps} steps once`,
    );
    console.log('backend       img/s wall   img/s CPU time   peak RSS');
    const figures = new Map<string, { wall: number; cpu: number; rss: number }>();
    for (const s of series.filter((x) => x.samples.length > 0)) {
      const f = summarise(s);
      figures.set(s.label, f);
      console.log(
        `${s.label.padEnd(12)} ${fmt(f.wall).padStart(11)} ${fmt(f.cpu).padStart(16)}   ${mb(f.rss).padStart(8)}`,
      );
    }
    const ratio = (a: string, b: string, target?: string) => {
      const fa = figures.get(a);
      const fb = figures.get(b);
      if (!fa || !fb) return;
      console.log(
        `ratio ${a}/${b}: ${fmt(fa.wall / fb.wall, 2)}x wall, ${fmt(fa.cpu / fb.cpu, 2)}x CPU time${target ? ` (target ${target})` : ''}`,
      );
    };
    ratio('tfjs-node', 'wasm', '≥ 2.5x');
    ratio('tfjs-node', 'keras', '≥ 0.7x');
    ratio('wasm', 'cpu');
    if (keras?.params !== undefined) {
      console.log(
        `keras trainable parameters ${keras.params} vs ours ${refParams}: ${keras.params === refParams ? 'equal' : 'DIFFERENT'}`,
      );
    }
    const recordFile = path.join(ROOT, '.tools', 'tfjs-node-install.json');
    if (existsSync(recordFile)) {
      const record = JSON.parse(readFileSync(recordFile, 'utf8')) as {
        tensorflow: string;
        seconds: number;
        downloaded: boolean;
        bytes: number;
      };
      console.log(
        `native build at install: TensorFlow ${record.tensorflow}, ${fmt(record.seconds, 0)} s` +
          `${record.downloaded ? ' (wheel download included)' : ' (wheel already unpacked)'}, ${mb(record.bytes)} on disk`,
      );
    }
    if (o.threads && figures.has('tfjs-node')) await threadPolicy(o);
    if (o.profile && figures.has('tfjs-node')) await profileNative(o);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Two 1-thread processes at once (the policy) against one process with 2 TensorFlow threads. */
async function threadPolicy(o: Options): Promise<void> {
  console.log('\nthread policy on tfjs-node (total img/s of the machine, interleaved rounds):');
  const two: number[] = [];
  const one: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const pair = await Promise.all([0, 1].map(() => measureTfjs('tensorflow', o, o.wasmSteps, 3)));
    two.push(pair.reduce((n, x) => n + x.wallImagesPerSecond, 0));
    const single = await measureTfjs('tensorflow', o, o.wasmSteps, 3, {
      TF_NUM_INTRAOP_THREADS: '2',
      TF_NUM_INTEROP_THREADS: '2',
    });
    one.push(single.wallImagesPerSecond);
  }
  console.log(
    `  2 processes x 1 thread: ${fmt(median(two))} img/s (rounds ${two.map((x) => fmt(x, 0)).join(', ')})`,
  );
  console.log(
    `  1 process  x 2 threads: ${fmt(median(one))} img/s (rounds ${one.map((x) => fmt(x, 0)).join(', ')})`,
  );
}

/** Where a tfjs-node step's time goes: inside TensorFlow ops (by op) and outside them (tfjs, JS). */
async function profileNative(o: Options): Promise<void> {
  const s = await measureTfjs('tensorflow', o, o.wasmSteps, 3, {}, true);
  if (!s.profile) return;
  const stepMs = (o.batchSize * 1000) / s.wallImagesPerSecond;
  const ops = Object.entries(s.profile.ops).sort((a, b) => b[1].ms - a[1].ms);
  const calls = ops.reduce((n, [, v]) => n + v.calls, 0);
  console.log(
    `\ntfjs-node step profile: ${fmt(stepMs)} ms per step, ${fmt(s.profile.nativeMs)} ms in ${fmt(calls, 0)} TensorFlow ops, ` +
      `${fmt(stepMs - s.profile.nativeMs)} ms outside them (tfjs engine, autodiff, JS)`,
  );
  for (const [name, v] of ops.slice(0, 12)) {
    console.log(`  ${name.padEnd(38)} ${fmt(v.calls, 0).padStart(5)} calls ${fmt(v.ms, 2).padStart(7)} ms`);
  }
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
    .option(
      '--wasm-steps <n>',
      'measured wasm / tfjs-node / keras steps per round (after 3 warm-up steps)',
      Number,
      20,
    )
    .option('--rounds <n>', 'interleaved throughput rounds', Number, 3)
    .option(
      '--keras',
      'also measure native Keras from the pinned TensorFlow wheel (sets up .tools/keras-venv once)',
      false,
    )
    .option('--threads', 'compare two 1-thread tfjs-node processes with one 2-thread process', false)
    .option('--profile', 'time every TensorFlow op of a tfjs-node step', false)
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

  if (!skip.has('throughput')) await throughput(opts, refCost.params);

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
      progressIntervalMs: 60000,
    };
    console.log(
      `budget: ${opts.accuracyEpochs} epochs of ${opts.accuracyTrain} images, batch ${opts.batchSize}, Adam 1e-2 cosine, BN momentum 0.9 + recalibration; validation ${opts.accuracyVal} held-out images`,
    );
    // Both backends at once, one process each (one per core, the thread policy).
    const runs = await Promise.all(
      (['tensorflow', 'wasm'] as const).map((backend) =>
        trainInChildProcess(
          { ...req, backend },
          {
            onProgress: (p) =>
              console.log(
                `  [${backend}] step ${p.step}/${p.totalSteps} loss ${fmt(p.loss, 3)} ${fmt(p.imagesPerSecond)} img/s`,
              ),
          },
        ),
      ),
    );
    for (const r of runs) {
      console.log(
        `${r.backend.name.padEnd(10)} val top-1 ${fmt(100 * r.valAccuracy, 2)} % (train ${fmt(100 * r.trainAccuracy, 2)} %) ${r.valAccuracy >= 0.85 ? '≥' : '<'} 85 %; ` +
          `${r.steps} steps in ${fmt(r.wallTimeMs / 60000, 1)} min wall (${fmt(r.imagesPerSecond)} img/s); peak RSS ${mb(r.peakRssBytes)}`,
      );
    }
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
