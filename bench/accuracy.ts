/**
 * Is the accuracy half of a front trustworthy? One run, on Fashion-MNIST at the proxy geometry:
 *  1. Curves: the hand-designed baselines' accuracy vs training steps (is the finalist budget long enough for
 *     the curves to flatten?).
 *  2. Ground truth: architectures stratified over the space's cost range (equal bins of MACs at the FBNet
 *     deployment geometry), each trained stand-alone with 2 seeds at the finalist budget; tau(seed 1, seed 2)
 *     is the ceiling any estimate can reach.
 *  3. Ranking: Kendall tau (with a bootstrap 95 % interval) against the ground-truth mean for the supernet's
 *     scores, per path-sampling variant, and for today's short per-candidate proxy.
 *  4. Costs: supernet training (wall, CPU, peak RSS), scoring time per candidate, stand-alone training time.
 * Every stand-alone training and supernet is cached on disk (keyed by architecture, seed and budget), so an
 * interrupted run resumes and later runs reuse what is done. Trainings run in child processes, as the
 * worker runs them, `--concurrency` at a time.
 *
 *   npm run bench:accuracy -- [--archs 24] [--gt-steps 300] [--samplings uniform,fair,sandwich] [--supernet-steps 3000] …
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import {
  FBNET_224,
  PROXY_28,
  baselineArchitectures,
  countCost,
  createRng,
  formatArchitecture,
  proxyConfigFor,
  sampleArchitecture,
  withGeometry,
} from '@edgenas/search-space';
import {
  SubnetScoringResult,
  SupernetSampling,
  SupernetTrainingResult,
  scoreSubnetsInChildProcess,
  trainSupernetInChildProcess,
} from '@edgenas/proxy-trainer';
import { kendallTau } from '@edgenas/latency-predictor';
import { Cache, hashKey, pool, standaloneTraining } from './training-cache';

interface Options {
  archs: number;
  gtSteps: number;
  gtSeeds: number;
  batchSize: number;
  train: number;
  val: number;
  curveSteps: string;
  shortSteps: number;
  samplings: string;
  supernetSteps: number;
  recalibrationBatches: number;
  concurrency: number;
  cache: string;
  cachedOnly: boolean;
  skip: string;
  seed: number;
  out: string;
}

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const minutes = (ms: number) => `${(ms / 60000).toFixed(1)} min`;

/** `count` architectures of proxy-28 (valid on fbnet-224), one per equal-width bin of fbnet-224 MACs. */
function stratifiedArchitectures(count: number, seed: number): { architecture: string; macs: number }[] {
  const rng = createRng(seed);
  const pool: { architecture: string; macs: number }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const arch = sampleArchitecture(FBNET_224, rng, { alsoValidFor: [PROXY_28] });
    const architecture = formatArchitecture(arch, PROXY_28);
    if (seen.has(architecture)) continue;
    seen.add(architecture);
    pool.push({ architecture, macs: countCost(arch, FBNET_224).macs });
  }
  // The cheapest and the dearest corners are rare under uniform sampling: add the baselines' extremes.
  for (const b of baselineArchitectures(FBNET_224, [PROXY_28])) {
    pool.push({
      architecture: formatArchitecture(b.architecture, PROXY_28),
      macs: countCost(b.architecture, FBNET_224).macs,
    });
  }
  const macs = pool.map((p) => p.macs);
  const lo = Math.min(...macs);
  const hi = Math.max(...macs);
  const chosen: { architecture: string; macs: number }[] = [];
  for (let b = 0; b < count; b++) {
    const centre = lo + ((b + 0.5) * (hi - lo)) / count;
    const inBin = pool.filter(
      (p) => p.macs >= lo + (b * (hi - lo)) / count && p.macs <= lo + ((b + 1) * (hi - lo)) / count,
    );
    const unchosen = (xs: typeof pool) =>
      xs.filter((c) => !chosen.some((x) => x.architecture === c.architecture));
    const pick = unchosen(inBin);
    if (pick.length > 0) chosen.push(pick[rng.int(pick.length)]);
    else {
      // An empty bin (the range's thin ends): the unchosen architecture nearest its centre.
      const nearest = unchosen(pool).sort((x, y) => Math.abs(x.macs - centre) - Math.abs(y.macs - centre))[0];
      if (nearest) chosen.push(nearest);
    }
  }
  return chosen;
}

/** `tauWithInterval` over the architectures where both values exist (an interrupted run); n says how many. */
function tauWhereBoth(a: readonly number[], b: readonly number[], seed: number) {
  const idx = a.map((_, i) => i).filter((i) => Number.isFinite(a[i]) && Number.isFinite(b[i]));
  if (idx.length < 3) return { tau: NaN, lo: NaN, hi: NaN, n: idx.length };
  return {
    ...tauWithInterval(
      idx.map((i) => a[i]),
      idx.map((i) => b[i]),
      seed,
    ),
    n: idx.length,
  };
}

/** Kendall tau with a bootstrap 95 % interval over the architectures. */
function tauWithInterval(
  a: readonly number[],
  b: readonly number[],
  seed: number,
): { tau: number; lo: number; hi: number } {
  const tau = kendallTau(a, b);
  const rng = createRng(seed);
  const samples: number[] = [];
  for (let r = 0; r < 1000; r++) {
    const idx = a.map(() => rng.int(a.length));
    const t = kendallTau(
      idx.map((i) => a[i]),
      idx.map((i) => b[i]),
    );
    if (Number.isFinite(t)) samples.push(t);
  }
  samples.sort((x, y) => x - y);
  return {
    tau,
    lo: samples[Math.floor(0.025 * samples.length)],
    hi: samples[Math.floor(0.975 * samples.length)],
  };
}

/** The step a supernet checkpoint was written at (from its header). */
function readCheckpointStep(file: string): number {
  const data = fs.readFileSync(file);
  const magic = data.indexOf(10) + 1;
  const length = data.readUInt32LE(magic);
  return (JSON.parse(data.subarray(magic + 4, magic + 4 + length).toString('utf8')) as { step: number }).step;
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('bench-accuracy')
    .option('--archs <n>', 'ground-truth architectures (stratified)', Number, 24)
    .option('--gt-steps <n>', 'stand-alone (finalist) training steps', Number, 300)
    .option('--gt-seeds <n>', 'seeds per ground-truth architecture', Number, 2)
    .option('--batch-size <n>', 'batch size of every training', Number, 64)
    .option('--train <n>', 'Fashion-MNIST training images', Number, 8000)
    .option('--val <n>', 'Fashion-MNIST validation images', Number, 2000)
    .option('--curve-steps <list>', 'baseline curves: steps', '75,150,300,600')
    .option('--short-steps <n>', "today's short per-candidate proxy: steps", Number, 31)
    .option('--samplings <list>', 'supernet path sampling variants', 'uniform,fair,sandwich')
    .option(
      '--supernet-steps <n>',
      'supernet training steps (sandwich takes two passes a step)',
      Number,
      3000,
    )
    .option('--recalibration-batches <n>', 'BN recalibration batches when scoring', Number, 8)
    .option('--concurrency <n>', 'trainings at once (child processes)', Number, 2)
    .option('--cache <dir>', 'cache of trainings and supernets', '.edgenas/bench-accuracy')
    .option(
      '--cached-only',
      'train nothing: report on what the cache holds (a supernet checkpoint is scored)',
      false,
    )
    .option('--skip <parts>', 'parts to skip: curves,gt,short,supernet', '')
    .option('--seed <n>', 'seed of the architecture sample and of the first training seed', Number, 1)
    .option('--out <file>', 'JSON report', '.edgenas/bench-accuracy/report.json')
    .parse(argv);
  const o = program.opts<Options>();
  const skip = new Set(o.skip.split(',').filter(Boolean));
  const cache = new Cache(path.resolve(o.cache), o.cachedOnly);
  const dataset = { kind: 'fashion-mnist' as const, trainSize: o.train, valSize: o.val };
  const seeds = Array.from({ length: o.gtSeeds }, (_, i) => o.seed + i);
  const report: Record<string, unknown> = { options: o };
  const started = Date.now();
  const cpuStart = process.cpuUsage();

  const standalone = (architecture: string, seed: number, steps: number) =>
    standaloneTraining(cache, architecture, seed, { steps, batchSize: o.batchSize, dataset });

  // 1. Curves of the baselines.
  if (!skip.has('curves')) {
    const t0 = Date.now();
    const steps = o.curveSteps.split(',').map(Number);
    const baselines = baselineArchitectures(withGeometry(FBNET_224, { classes: 10 }), [
      proxyConfigFor(FBNET_224),
    ]);
    console.log(
      `\n1. Baselines' accuracy vs steps (batch ${o.batchSize}, ${o.train} images, seeds ${seeds.join(', ')})`,
    );
    const rows = await pool(
      o.concurrency,
      baselines.flatMap((b) =>
        steps.flatMap((s) =>
          seeds.map(
            (seed) => () =>
              standalone(formatArchitecture(b.architecture, PROXY_28), seed, s).then((r) => ({
                b: b.name,
                s,
                seed,
                r,
              })),
          ),
        ),
      ),
    );
    console.log(`   ${'baseline'.padEnd(20)}${steps.map((s) => `${s} steps`.padStart(14)).join('')}`);
    const curves: Record<string, number[]> = {};
    for (const b of baselines) {
      const means = steps.map((s) => {
        const xs = rows.filter((r) => r.b === b.name && r.s === s && r.r).map((r) => r.r?.accuracy as number);
        return xs.reduce((a, x) => a + x, 0) / xs.length;
      });
      curves[b.name] = means;
      console.log(`   ${b.name.padEnd(20)}${means.map((m) => pct(m).padStart(14)).join('')}`);
    }
    report.curves = { steps, curves, wallMs: Date.now() - t0 };
    console.log(`   (${minutes(Date.now() - t0)})`);
  }

  // 2. Ground truth.
  const archs = stratifiedArchitectures(o.archs, o.seed);
  let truth: number[] = [];
  if (!skip.has('gt')) {
    const t0 = Date.now();
    console.log(
      `\n2. Ground truth: ${archs.length} architectures stratified over fbnet-224 MACs (${(Math.min(...archs.map((a) => a.macs)) / 1e6).toFixed(0)}–${(Math.max(...archs.map((a) => a.macs)) / 1e6).toFixed(0)} M), ${o.gtSteps} steps × ${o.batchSize}, seeds ${seeds.join(', ')}`,
    );
    // Seed-major: an interrupted run has every architecture at the first seed before any at the second.
    const results = await pool(
      o.concurrency,
      seeds.flatMap((seed) => archs.map((a) => () => standalone(a.architecture, seed, o.gtSteps))),
    );
    // NaN where a training is missing (--cached-only on an interrupted run).
    const bySeed = seeds.map((_, si) =>
      archs.map((_, ai) => results[si * archs.length + ai]?.accuracy ?? NaN),
    );
    truth = archs.map((_, ai) => {
      const xs = bySeed.map((s) => s[ai]).filter(Number.isFinite);
      return xs.length > 0 ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN;
    });
    const complete = archs.map((_, ai) => bySeed.every((s) => Number.isFinite(s[ai])));
    const spreads = archs
      .map((_, ai) => Math.max(...bySeed.map((s) => s[ai])) - Math.min(...bySeed.map((s) => s[ai])))
      .filter(Number.isFinite);
    const both = archs.map((_, ai) => ai).filter((ai) => complete[ai]);
    const ceiling =
      seeds.length >= 2 && both.length >= 3
        ? tauWithInterval(
            both.map((ai) => bySeed[0][ai]),
            both.map((ai) => bySeed[1][ai]),
            11,
          )
        : undefined;
    const trained = results.filter((r): r is NonNullable<typeof r> => r !== undefined);
    const trainMs = trained.filter((r) => !r.cached).map((r) => r.wallTimeMs);
    const withTruth = truth.filter(Number.isFinite);
    console.log(
      `   ${withTruth.length} of ${archs.length} architectures trained (${both.length} at every seed)`,
    );
    console.log(
      `   accuracy ${pct(Math.min(...withTruth))} – ${pct(Math.max(...withTruth))}; seed spread ${spreads.length > 0 ? `median ${pct(spreads.sort((a, b) => a - b)[Math.floor(spreads.length / 2)])}, max ${pct(Math.max(...spreads))}` : 'n/a (one seed so far)'}`,
    );
    if (ceiling)
      console.log(
        `   ceiling tau(seed ${seeds[0]}, seed ${seeds[1]}) = ${fmt(ceiling.tau)} [${fmt(ceiling.lo)}, ${fmt(ceiling.hi)}] over ${both.length}`,
      );
    if (trainMs.length > 0)
      console.log(
        `   stand-alone training: median ${(trainMs.sort((a, b) => a - b)[Math.floor(trainMs.length / 2)] / 1000).toFixed(0)} s each (${trained[0]?.backend})`,
      );
    report.groundTruth = { archs, bySeed, truth, ceiling, wallMs: Date.now() - t0 };
    console.log(`   (${minutes(Date.now() - t0)})`);
  }

  // 3a. Today's short per-candidate proxy.
  if (!skip.has('short')) {
    const t0 = Date.now();
    const short = await pool(
      o.concurrency,
      archs.map((a) => () => standalone(a.architecture, o.seed + 100, o.shortSteps)),
    );
    const accuracies = short.map((r) => r?.accuracy ?? NaN);
    const t = tauWhereBoth(accuracies, truth, 12);
    console.log(
      `\n3. Ranking against the ground-truth mean\n   short proxy (${o.shortSteps} steps, 1 seed): tau ${fmt(t.tau)} [${fmt(t.lo)}, ${fmt(t.hi)}] over ${t.n}  (${minutes(Date.now() - t0)})`,
    );
    report.shortProxy = { steps: o.shortSteps, accuracies, tau: t };
  }

  // 3b. Supernets, per sampling variant.
  if (!skip.has('supernet')) {
    const variants = o.samplings.split(',').filter(Boolean) as SupernetSampling[];
    const supernetReport: Record<string, unknown> = {};
    await pool(
      o.concurrency,
      variants.map((sampling) => async () => {
        const request = {
          space: PROXY_28.name,
          dataset,
          resolution: 28,
          steps: o.supernetSteps,
          batchSize: o.batchSize,
          sampling,
          seed: o.seed,
        };
        const file = cache.file(`supernet-${hashKey(request)}.supernet`);
        let printed = 0;
        const trained = await cache.json({ kind: 'supernet', request }, async () => {
          const r: SupernetTrainingResult = await trainSupernetInChildProcess(request, {
            outputPath: file,
            resumeFrom: fs.existsSync(`${file}.ckpt`) ? `${file}.ckpt` : undefined,
            checkpointIntervalMs: 60_000,
            onProgress: (p) => {
              // Progress comes every couple of seconds at any step: print once per 250 steps crossed.
              if (Math.floor(p.step / 250) > printed || p.step === p.totalSteps) {
                printed = Math.floor(p.step / 250);
                process.stdout.write(
                  `  supernet ${sampling}: step ${p.step}/${p.totalSteps}, loss ${fmt(p.loss, 2)}, ${fmt(p.imagesPerSecond, 0)} img/s\n`,
                );
              }
            },
          });
          return {
            wallTimeMs: r.wallTimeMs,
            imagesPerSecond: r.imagesPerSecond,
            peakRssBytes: r.peakRssBytes,
            finalLoss: r.lossCurve[r.lossCurve.length - 1]?.loss,
            backend: r.backend.name,
          };
        });
        // An interrupted training (--cached-only): score its last checkpoint, and say so.
        const supernetPath = trained ? file : `${file}.ckpt`;
        if (!fs.existsSync(supernetPath)) {
          console.log(`   supernet ${sampling}: not trained yet`);
          return;
        }
        const checkpointStep = trained ? o.supernetSteps : readCheckpointStep(supernetPath);
        const scored: SubnetScoringResult = await scoreSubnetsInChildProcess({
          supernetPath,
          space: PROXY_28.name,
          dataset,
          resolution: 28,
          seed: o.seed,
          architectures: archs.map((a) => a.architecture),
          recalibrationBatches: o.recalibrationBatches,
          batchSize: o.batchSize,
          scoreImages: o.val,
        });
        const scores = scored.scores.map((s) => s.accuracy);
        const perCandidate = scored.scores.map((s) => s.ms).sort((a, b) => a - b);
        const tau = tauWhereBoth(scores, truth, 13);
        supernetReport[sampling] = {
          trained,
          steps: checkpointStep,
          scores,
          tau,
          scoreMsMedian: perCandidate[Math.floor(perCandidate.length / 2)],
        };
        console.log(
          `   supernet ${sampling.padEnd(8)} (` +
            (trained
              ? `${o.supernetSteps} steps, final loss ${fmt(trained.finalLoss ?? NaN, 2)}, ${minutes(trained.wallTimeMs)}, ` +
                `${fmt(trained.imagesPerSecond, 0)} img/s, RSS ${(trained.peakRssBytes / 2 ** 20).toFixed(0)} MiB`
              : `checkpoint at step ${checkpointStep} of ${o.supernetSteps}`) +
            `): tau ${fmt(tau.tau)} [${fmt(tau.lo)}, ${fmt(tau.hi)}] over ${tau.n}; scores ${pct(Math.min(...scores))} – ${pct(Math.max(...scores))}; ` +
            `scoring ${fmt(perCandidate[Math.floor(perCandidate.length / 2)] / 1000, 2)} s per candidate (${scored.scoredImages} images, ${scored.backend.name})`,
        );
      }),
    );
    report.supernets = supernetReport;
  }

  const cpu = process.cpuUsage(cpuStart);
  console.log(
    `\nwall ${minutes(Date.now() - started)} (this process's CPU ${((cpu.user + cpu.system) / 6e7).toFixed(1)} min; trainings run in child processes)`,
  );
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  fs.writeFileSync(path.resolve(o.out), JSON.stringify(report, null, 2));
  console.log(`report: ${o.out}`);
}

main(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
