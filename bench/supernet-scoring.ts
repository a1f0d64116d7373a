/**
 * `npm run bench:scoring`: the cost of scoring one subnet with inherited weights, and where it goes.
 *
 * Each candidate is built from the supernet, its BatchNorm recalibrated on training batches, then scored on the
 * validation images twice, interleaved in one run: in ONNX Runtime on the folded model (what `scoreSubnets`
 * does) and in tfjs (the baseline). Wall and CPU time per phase, and whether both give the same top-1.
 * Single-threaded (TF and ORT), as a worker's scoring process runs.
 *
 * The supernet is `--supernet <file>` (a finished file or a checkpoint, e.g. from `bench:accuracy`); without it
 * a short one is trained first (`--train-steps`), which scores lower but costs the same to score.
 */
process.env.TF_NUM_INTRAOP_THREADS ??= '1';
process.env.TF_NUM_INTEROP_THREADS ??= '1';

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import {
  Dataset,
  WeightBank,
  evaluateTop1,
  loadDataset,
  readSupernetFile,
  recalibrateBatchNorm,
  scoringImages,
  selectBackend,
  supernetConfig,
  trainSupernet,
} from '@edgenas/proxy-trainer';
import { evaluateOnnx } from '@edgenas/quantizer';
import {
  PROXY_28,
  createRng,
  formatArchitecture,
  parseArchitecture,
  sampleArchitecture,
} from '@edgenas/search-space';
import { buildOnnxModel } from '@edgenas/search-space/onnx';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';
import { int } from './options';

interface Options {
  supernet?: string;
  trainSteps: number;
  candidates: number;
  val: number;
  train: number;
  recalibrationBatches: number;
  batchSize: number;
  seed: number;
}

/** Wall and CPU milliseconds of `fn` (CPU of the whole process: TF and ORT run on this thread's core). */
async function timed<T>(fn: () => T | Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number) => (ms / 1000).toFixed(2);

async function supernetBank(o: Options, data: Dataset): Promise<{ bank: WeightBank; source: string }> {
  const config = supernetConfig(PROXY_28.name, data);
  let file = o.supernet;
  if (!file) {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-bench-scoring-')), 'short.supernet');
    console.log(`training a short supernet (${o.trainSteps} steps) to score with…`);
    await trainSupernet(
      {
        space: PROXY_28.name,
        dataset: { kind: 'fashion-mnist', trainSize: o.train, valSize: o.val },
        resolution: 28,
        steps: o.trainSteps,
        batchSize: o.batchSize,
        sampling: 'uniform',
        seed: o.seed,
      },
      { outputPath: file, dataset: data },
    );
  }
  return { bank: readSupernetFile(file, config).bank, source: o.supernet ?? `${o.trainSteps}-step supernet` };
}

async function main(argv: string[]) {
  const program = new Command('bench-supernet-scoring')
    .option('--supernet <file>', 'supernet file or checkpoint to score with (default: train a short one)')
    .option('--train-steps <n>', 'steps of the short supernet when none is given', int(10, 100_000), 300)
    .option('--candidates <n>', 'subnets scored', int(1, 1000), 12)
    .option('--val <n>', 'validation images scored', int(100, 10_000), 2000)
    .option('--train <n>', 'Fashion-MNIST training images', int(1000, 60_000), 8000)
    .option('--recalibration-batches <n>', 'BN recalibration batches', int(0, 1000), 8)
    .option('--batch-size <n>', 'recalibration batch size', int(1, 1024), 64)
    .option('--seed <n>', 'seed of the data split and the sampled subnets', int(0, 2 ** 31), 1)
    .parse(argv);
  const o = program.opts<Options>();
  const backend = await selectBackend('auto');
  const data = loadDataset(
    { kind: 'fashion-mnist', trainSize: o.train, valSize: o.val },
    { resolution: 28, seed: o.seed },
  );
  const { bank, source } = await supernetBank(o, data);
  const scoring = scoringImages(data, o.val);
  const rng = createRng(o.seed);
  const rows: Record<string, number>[] = [];
  let agree = 0;
  console.log(
    `\nscoring ${o.candidates} subnets of ${source} on ${o.val} validation images after ${o.recalibrationBatches}×${o.batchSize} ` +
      `recalibration images (tfjs backend ${backend.name}, ORT single-threaded; load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
  );
  for (let i = 0; i < o.candidates; i++) {
    const architecture = formatArchitecture(sampleArchitecture(bank.config, rng));
    const view = bank.view(parseArchitecture(architecture, bank.config));
    const build = await timed(() => buildTfjsNetwork(view.graph, bank.gatherWeights(view)));
    const net = build.value;
    try {
      const recal = await timed(() =>
        recalibrateBatchNorm(net, data, o.recalibrationBatches, o.batchSize, o.seed),
      );
      // Alternate which evaluation goes first, so drift and warm caches favour neither.
      const runOrt = () =>
        timed(async () => {
          const model = buildOnnxModel(view.graph, net.exportWeights());
          return (await evaluateOnnx(model, scoring.images, scoring.labels, { batchSize: 250, threads: 1 }))
            .top1;
        });
      const runTfjs = () => timed(() => evaluateTop1(net, data, data.val, o.val));
      let ort: Awaited<ReturnType<typeof runOrt>>;
      let tfjs: Awaited<ReturnType<typeof runTfjs>>;
      if (i % 2 === 0) {
        ort = await runOrt();
        tfjs = await runTfjs();
      } else {
        tfjs = await runTfjs();
        ort = await runOrt();
      }
      if (ort.value === tfjs.value) agree++;
      rows.push({
        buildCpu: build.cpuMs,
        recalWall: recal.wallMs,
        recalCpu: recal.cpuMs,
        ortWall: ort.wallMs,
        ortCpu: ort.cpuMs,
        tfjsWall: tfjs.wallMs,
        tfjsCpu: tfjs.cpuMs,
        top1: ort.value,
      });
      console.log(
        `  ${architecture.slice(0, 44).padEnd(45)}… top-1 ${(ort.value * 100).toFixed(1)} % (tfjs ${(tfjs.value * 100).toFixed(1)} %); ` +
          `recal ${s(recal.cpuMs)} s CPU; eval ORT ${s(ort.cpuMs)} s vs tfjs ${s(tfjs.cpuMs)} s CPU`,
      );
    } finally {
      net.dispose();
    }
  }
  const col = (k: string) => median(rows.map((r) => r[k]));
  const withOrt = col('buildCpu') + col('recalCpu') + col('ortCpu');
  const withTfjs = col('buildCpu') + col('recalCpu') + col('tfjsCpu');
  console.log(`\nmedian per subnet (wall / CPU, s):`);
  console.log(`  build + gather weights        ${s(col('buildCpu'))} CPU`);
  console.log(`  BN recalibration (tfjs)       ${s(col('recalWall'))} / ${s(col('recalCpu'))}`);
  console.log(`  top-1 in ORT (incl. export)   ${s(col('ortWall'))} / ${s(col('ortCpu'))}`);
  console.log(`  top-1 in tfjs (baseline)      ${s(col('tfjsWall'))} / ${s(col('tfjsCpu'))}`);
  console.log(
    `  whole score: ${s(withOrt)} s CPU with ORT vs ${s(withTfjs)} s with tfjs evaluation ` +
      `(${(withTfjs / withOrt).toFixed(2)}× less); same top-1 on ${agree}/${rows.length} subnets`,
  );
}

main(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
