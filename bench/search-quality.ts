/**
 * Search quality at equal wall clock: does the supernet search (the default mode) find better fronts than
 * random search and than today's per-candidate NSGA-II when each job gets the same minutes on this machine?
 *
 *  (a) `supernet`: evaluation mode supernet, NSGA-II over supernet scores, the front's finalists retrained;
 *      the supernet's training counts inside the job's minutes.
 *  (b) `random`: random search, every candidate proxy-trained stand-alone.
 *  (c) `nsga2`: NSGA-II, every candidate proxy-trained stand-alone.
 *
 * Each is a real NAS job (Temporal dev server, the worker's workflow and activities, SQLite, a LUT of this
 * machine measured by the device agent's harness), interleaved per seed (seed 1: a, b, c; seed 2: …) so that
 * drift of the machine hits all alike. Every returned front is then scored by ground truth: each member
 * trained stand-alone at the finalist budget over `--gt-seeds` seeds (mean), cached in bench:accuracy's cache.
 * Hypervolume in (ground-truth accuracy, predicted latency), reference (0, budget), normalised by the budget.
 *
 * The job's wall clock (`budget.wallClockSeconds`) bounds its search only: the supernet is trained before it
 * and the finalists are retrained after it, and a search stops between generations. So each job's search gets
 * the minutes less what comes before and after it: the supernet's measured training (trained by the worker's
 * own activity just before the job, which then reuses it) and the time the job ran past its search budget,
 * measured on the earlier seeds of the same mode (an estimate for the first seed). Each job's total wall time
 * is reported beside the budget.
 *
 * Job results, the LUT and the budget are cached (.edgenas/bench-search-quality), trainings in
 * .edgenas/bench-accuracy: an interrupted run resumes.
 *
 *   npm run bench:search-quality -- [--minutes 8] [--seeds 1,2,3] [--max-front 3] [--gt-steps 300] …
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import {
  CandidateSummary,
  EvaluationSpec,
  NAS_JOB_WORKFLOW,
  NasJobInput,
  NasJobResult,
  SearchStrategy,
  SupernetSpec,
  TASK_QUEUES,
} from '@edgenas/contracts';
import { normalizedHypervolume, selectFinalists, summarizeSeeds } from '@edgenas/search';
import { getMacroConfig, withGeometry } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import { createActivities } from '../apps/worker/src/activities';
import { createWorkers, runWorkers } from '../apps/worker/src/worker';
import { TemporalDevServer, startTemporalDevServer } from '../test/support/temporal-server';
import { int } from './options';
import { Cache, FashionMnistSubset, pool, standaloneTraining } from './training-cache';
import { budgetFromLut, measureLut, registerBenchDevice } from './lut-budget';

const MODES = ['supernet', 'random', 'nsga2'] as const;
type Mode = (typeof MODES)[number];

interface Options {
  minutes: number;
  seeds: string;
  modes: string;
  space: string;
  train: number;
  val: number;
  population: number;
  proxySteps: number;
  proxyBatchSize: number;
  supernetPopulation: number;
  supernetSteps?: number;
  supernetSampling: SupernetSpec['sampling'];
  recalibrationBatches: number;
  scoreImages: number;
  finalists: number;
  finalistSeeds: number;
  finalistSteps: number;
  supernetTail?: number;
  gtSteps: number;
  gtSeeds: number;
  gtBatchSize: number;
  gtTrain: number;
  gtVal: number;
  gtConcurrency: number;
  maxFront?: number;
  budgetQuantile: number;
  trainingConcurrency: number;
  temporalPort: number;
  cache: string;
  jobCache: string;
  cachedOnly: boolean;
  out: string;
}

/** One job of the comparison, as run (or read back from the cache). */
interface JobRecord {
  mode: Mode;
  seed: number;
  minutes: number;
  /** Wall clock the search was given (the minutes less the supernet and the expected tail). */
  searchSeconds: number;
  supernetMs: number;
  /** From submission to result (the supernet trained before it excluded). */
  jobMs: number;
  /** Supernet + job: what the minutes are compared with. */
  totalMs: number;
  /** This process and its finished child processes (the trainings), over the job and its supernet. */
  cpuMs: number;
  loadAverage: number;
  trained: number;
  finalistTrainings: number;
  stoppedBy: NasJobResult['stoppedBy'];
  /** The job's own hypervolume (its proxy, supernet or retrained accuracies). */
  jobHypervolume: number;
  front: Pick<CandidateSummary, 'architecture' | 'accuracy' | 'predictedLatencyMs' | 'accuracySource'>[];
  searchFrontSize?: number;
}

/** A job whose wall time exceeds the minutes by more than this factor was not compared at equal wall clock. */
const WALL_TOLERANCE = 1.25;

const minutesOf = (ms: number) => `${(ms / 60000).toFixed(1)} min`;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  if (xs.length === 0) return { mean: NaN, sd: NaN };
  const s = summarizeSeeds(xs);
  return { mean: s.mean, sd: s.sd };
}

/** CPU time of this process and of its children that have exited (Linux); this process only elsewhere. */
function makeCpuClock(): () => number {
  try {
    const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const read = () => {
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime: fields 14–17 of stat(5), 11–14 after the command name.
      return (
        ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / tick
      );
    };
    read();
    return read;
  } catch {
    return () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
  }
}

/** The Temporal dev server, the worker (light and training queues) and a client, started on first use. */
class JobStack {
  private temporal?: TemporalDevServer;
  private connection?: NativeConnection;
  private clientConnection?: Connection;
  private running?: Promise<void>;
  private shutdown?: () => void;
  client?: Client;

  constructor(
    private readonly storage: Storage,
    private readonly dataDir: string,
    private readonly o: Options,
  ) {}

  async start(): Promise<Client> {
    if (this.client) return this.client;
    this.temporal = await startTemporalDevServer(this.o.temporalPort);
    this.connection = await NativeConnection.connect({ address: this.temporal.address });
    const workers = await createWorkers({
      connection: this.connection,
      namespace: this.temporal.namespace,
      queues: ['light', 'training'],
      trainingConcurrency: this.o.trainingConcurrency,
      deps: { db: this.storage.handle.db, dataDir: this.dataDir, verificationTimeoutMs: 1000 },
    });
    this.running = runWorkers(workers);
    this.shutdown = () => workers.forEach((w) => w.shutdown());
    this.clientConnection = await Connection.connect({ address: this.temporal.address });
    this.client = new Client({ connection: this.clientConnection, namespace: this.temporal.namespace });
    return this.client;
  }

  /** Stops what was started; a second call does nothing. */
  async stop(): Promise<void> {
    const { shutdown, running, clientConnection, connection, temporal } = this;
    this.shutdown = this.running = this.clientConnection = this.connection = this.temporal = undefined;
    this.client = undefined;
    shutdown?.();
    await running;
    await clientConnection?.close();
    await connection?.close();
    await temporal?.stop();
  }
}

async function main(): Promise<void> {
  const o = new Command()
    .name('bench-search-quality')
    .option('--minutes <n>', 'wall clock per job, supernet training and finalists included', Number, 8)
    .option('--seeds <list>', 'comma-separated seeds (each mode runs once per seed)', '1,2,3')
    .option('--modes <list>', 'modes, in the order each seed runs them', MODES.join(','))
    .option('--space <name>', 'deployment space (macro config at its own geometry)', 'proxy-28')
    .option('--train <n>', "the jobs' Fashion-MNIST training images", int(64, 60000), 8000)
    .option('--val <n>', "the jobs' Fashion-MNIST validation images", int(1, 10000), 2000)
    .option('--population <n>', 'stand-alone modes: candidates trained per generation', int(2, 1000), 8)
    .option('--proxy-steps <n>', 'stand-alone modes: proxy-training steps per candidate', int(1, 100000), 31)
    .option('--proxy-batch-size <n>', 'stand-alone modes: proxy-training batch size', int(1, 1024), 64)
    .option(
      '--supernet-population <n>',
      'supernet mode: subnets scored per generation (a generation is the least a search does)',
      int(2, 1000),
      8,
    )
    .option(
      '--supernet-steps <n>',
      'supernet training steps (default: 62.5 per minute of --minutes)',
      int(1, 1000000),
    )
    .option('--supernet-sampling <name>', 'supernet path sampling', 'uniform')
    .option('--recalibration-batches <n>', 'BN recalibration batches when scoring', int(1, 1000), 8)
    .option('--score-images <n>', 'validation images each subnet is scored on', int(1, 10000), 1000)
    .option('--finalists <n>', 'supernet mode: front members retrained', int(1, 100), 3)
    .option('--finalist-seeds <n>', 'supernet mode: seeds per finalist', int(2, 10), 2)
    .option('--finalist-steps <n>', 'supernet mode: steps per finalist training', int(1, 100000), 150)
    .option(
      '--supernet-tail <seconds>',
      "supernet mode, first seed: expected time past the search's budget (finalists); later seeds use the measured one",
      Number,
    )
    .option('--gt-steps <n>', 'ground truth: stand-alone training steps', int(1, 100000), 300)
    .option('--gt-seeds <n>', 'ground truth: seeds per front member (1, 2, …; mean)', int(1, 10), 2)
    .option('--gt-batch-size <n>', 'ground truth: batch size', int(1, 1024), 64)
    .option('--gt-train <n>', 'ground truth: Fashion-MNIST training images', int(64, 60000), 8000)
    .option('--gt-val <n>', 'ground truth: Fashion-MNIST validation images', int(1, 10000), 2000)
    .option('--gt-concurrency <n>', 'ground-truth trainings at once', int(1, 64), cpus().length)
    .option(
      '--max-front <n>',
      'score at most this many members per front, spread by crowding distance',
      int(1, 1000),
    )
    .option('--budget-quantile <q>', 'latency budget = this quantile of random architectures', Number, 0.5)
    .option('--training-concurrency <n>', "the worker's trainings at once", int(1, 64), cpus().length)
    .option(
      '--temporal-port <n>',
      'port of the Temporal dev server started for the run',
      int(1024, 65535),
      7339,
    )
    .option(
      '--cache <dir>',
      'cache of stand-alone trainings (shared with bench:accuracy)',
      '.edgenas/bench-accuracy',
    )
    .option('--job-cache <dir>', 'cache of job results and of the LUT', '.edgenas/bench-search-quality')
    .option('--cached-only', 'run and train nothing: report on what the caches hold', false)
    .option('--out <file>', 'JSON report', '.edgenas/bench-search-quality/report.json')
    .parse(process.argv)
    .opts<Options>();

  const seeds = o.seeds.split(',').map(Number);
  const modes = o.modes.split(',').filter(Boolean) as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode "${m}" (${MODES.join(', ')})`);
  const trainings = new Cache(path.resolve(o.cache), o.cachedOnly);
  const jobCache = new Cache(path.resolve(o.jobCache), o.cachedOnly);
  const started = Date.now();
  const cpuClock = makeCpuClock();
  const parts: Record<string, number> = {};

  const dir = fs.mkdtempSync(path.join(tmpdir(), 'edgenas-bench-search-quality-'));
  const storage = await openStorage(`sqlite:${path.join(dir, 'bench.db')}`);
  const dataDir = path.join(dir, 'data');
  const stack = new JobStack(storage, dataDir, o);
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const records: JobRecord[] = [];
  try {
    // 1. The LUT of this machine and the budget: measured once, then read back so a resumed run prices alike.
    let t0 = Date.now();
    const config = withGeometry(getMacroConfig(o.space), {});
    const lut = await jobCache.json(
      { kind: 'lut', space: config.name, budgetQuantile: o.budgetQuantile },
      async () => {
        const rows = await measureLut(config);
        return { rows, measuredAt: new Date().toISOString(), loadAverage: loadavg()[0] };
      },
    );
    if (!lut) throw new Error('--cached-only: no LUT cached yet');
    const deviceId = await registerBenchDevice(storage, lut.rows);
    const { budgetMs, minMs, maxMs } = await budgetFromLut(storage, deviceId, config, o.budgetQuantile);
    parts.lut = Date.now() - t0;
    console.log(
      `1. LUT: ${lut.rows.length} signatures of ${config.name}, ${lut.cached ? `measured ${lut.measuredAt} (cached)` : 'measured now'}; ` +
        `budget ${budgetMs.toFixed(3)} ms (q${o.budgetQuantile} of 200 random architectures, ` +
        `${minMs.toFixed(3)}–${maxMs.toFixed(3)} ms)  (${minutesOf(parts.lut)})`,
    );

    // 2. The jobs, interleaved per seed.
    t0 = Date.now();
    const dataset: FashionMnistSubset = { kind: 'fashion-mnist', trainSize: o.train, valSize: o.val };
    // About a quarter of the minutes at the ~0.26 s a step (batch 64) a supernet took on this 2-core VM at load 2.
    const supernetSteps = o.supernetSteps ?? Math.max(1, Math.round(62.5 * o.minutes));
    const supernetSpec: SupernetSpec = {
      steps: supernetSteps,
      batchSize: o.proxyBatchSize,
      sampling: o.supernetSampling,
      recalibrationBatches: o.recalibrationBatches,
      scoreImages: Math.min(o.scoreImages, o.val),
    };
    const finalistRounds = Math.ceil((o.finalists * o.finalistSeeds) / o.trainingConcurrency);
    // The finalists ran past the search's budget 56 s in 3 rounds of 150 steps (batch 64) on this 2-core VM at
    // load 2, about 4 s a round plus 0.1 s a step; later seeds use the time measured on earlier ones.
    const firstTail = (m: Mode) =>
      m === 'supernet' ? (o.supernetTail ?? finalistRounds * (4 + o.finalistSteps * 0.1)) : 0;
    const jobTemplate = (mode: Mode, seed: number) => {
      const evaluation: EvaluationSpec =
        mode === 'supernet'
          ? {
              mode: 'supernet',
              supernet: supernetSpec,
              finalists: {
                count: o.finalists,
                seeds: o.finalistSeeds,
                steps: o.finalistSteps,
                batchSize: o.proxyBatchSize,
              },
              baselines: false,
            }
          : { mode: 'standalone', baselines: false };
      const strategy: SearchStrategy = mode === 'random' ? 'random' : 'nsga2';
      return {
        latencyBudgetMs: budgetMs,
        space: o.space,
        input: config.input,
        classes: config.classes,
        proxy: { dataset, epochs: 1, steps: o.proxySteps, batchSize: o.proxyBatchSize, resolution: 28 },
        // Caps far beyond what the minutes allow: the wall clock is what stops the search.
        generations: 100_000,
        population: mode === 'supernet' ? o.supernetPopulation : o.population,
        maxTrainedCandidates: 10_000_000,
        strategy,
        seed,
        evaluation,
      };
    };

    console.log(`\n2. Jobs: ${o.minutes} min each, modes ${modes.join(', ')}, seeds ${seeds.join(', ')}`);
    for (const seed of seeds) {
      for (const mode of modes) {
        const template = jobTemplate(mode, seed);
        const key = {
          kind: 'search-quality-job',
          mode,
          seed,
          minutes: o.minutes,
          template,
          trainingConcurrency: o.trainingConcurrency,
        };
        const earlier = records.filter((r) => r.mode === mode);
        const tailSeconds =
          earlier.length > 0
            ? earlier.reduce((a, r) => a + (r.jobMs / 1000 - r.searchSeconds), 0) / earlier.length
            : firstTail(mode);
        const record = await jobCache.json<JobRecord>(key, async () => {
          const client = await stack.start();
          const jobId = `bench-${mode}-${seed}-${randomUUID().slice(0, 8)}`;
          const cpu0 = cpuClock();
          const load0 = loadavg()[0];
          const { generations, population, maxTrainedCandidates, ...rest } = template;
          const input0 = { jobId, deviceIds: [deviceId], ...rest };
          // The worker's own activity trains the supernet (and stores it by content key); the job reuses it.
          // `supernetSpec` names no seed of its own, so the job trains with the job's seed, as this call does:
          // each seed's job pays for a supernet of its own, as a first job on new data would.
          let supernetMs = 0;
          if (mode === 'supernet') {
            const s0 = Date.now();
            await new MockActivityEnvironment({ activityType: 'trainSupernet' }).run(
              createActivities({ db: storage.handle.db, dataDir }).trainSupernet,
              { jobId, space: o.space, proxy: rest.proxy, supernet: supernetSpec, seed },
            );
            supernetMs = Date.now() - s0;
          }
          const searchSeconds = Math.max(1, Math.round(o.minutes * 60 - supernetMs / 1000 - tailSeconds));
          const input: NasJobInput = {
            ...input0,
            budget: { generations, population, maxTrainedCandidates, wallClockSeconds: searchSeconds },
          };
          await storage.jobs.create(input);
          const j0 = Date.now();
          const result = await client.workflow.execute<(i: NasJobInput) => Promise<NasJobResult>>(
            NAS_JOB_WORKFLOW,
            { taskQueue: TASK_QUEUES.light, workflowId: jobId, args: [input] },
          );
          const jobMs = Date.now() - j0;
          const finalistTrainings =
            mode === 'supernet'
              ? Math.min(o.finalists, result.searchFront?.length ?? 0) * o.finalistSeeds
              : 0;
          return {
            mode,
            seed,
            minutes: o.minutes,
            searchSeconds,
            supernetMs,
            jobMs,
            totalMs: supernetMs + jobMs,
            cpuMs: cpuClock() - cpu0,
            loadAverage: (load0 + loadavg()[0]) / 2,
            trained: result.trained,
            finalistTrainings,
            stoppedBy: result.stoppedBy,
            jobHypervolume: result.hypervolume,
            front: result.front.map((c) => ({
              architecture: c.architecture,
              accuracy: c.accuracy,
              predictedLatencyMs: c.predictedLatencyMs,
              accuracySource: c.accuracySource,
            })),
            ...(result.searchFront ? { searchFrontSize: result.searchFront.length } : {}),
          };
        });
        if (!record) {
          console.log(`   ${mode.padEnd(8)} seed ${seed}: not run yet`);
          continue;
        }
        records.push(record);
        console.log(
          `   ${mode.padEnd(8)} seed ${seed}: ${describeWork(record, supernetSteps)}; front ${record.front.length}, ` +
            `job's own hypervolume ${record.jobHypervolume.toFixed(4)}; search budget ${record.searchSeconds} s, ` +
            `total ${minutesOf(record.totalMs)} (supernet ${minutesOf(record.supernetMs)}), CPU ${minutesOf(record.cpuMs)}, ` +
            `load ${record.loadAverage.toFixed(1)}${record.cached ? ' (cached)' : ''}`,
        );
      }
    }
    await stack.stop();
    parts.jobs = Date.now() - t0;
    console.log(`   (${minutesOf(parts.jobs)})`);

    // 3. Ground truth of every front member scored (seed-major: an interrupted run has all at the first seed).
    t0 = Date.now();
    const gtDataset: FashionMnistSubset = { kind: 'fashion-mnist', trainSize: o.gtTrain, valSize: o.gtVal };
    const gtSeeds = Array.from({ length: o.gtSeeds }, (_, i) => 1 + i);
    const scoredOf = (r: JobRecord) =>
      o.maxFront === undefined
        ? r.front
        : selectFinalists(
            r.front.map((c) => ({ ...c, latencyMs: c.predictedLatencyMs })),
            o.maxFront,
          );
    const architectures = [...new Set(records.flatMap((r) => scoredOf(r).map((c) => c.architecture)))];
    console.log(
      `\n3. Ground truth: ${architectures.length} distinct front members, ${o.gtSteps} steps × ${o.gtBatchSize}, ` +
        `${o.gtTrain}/${o.gtVal} images, seeds ${gtSeeds.join(', ')}`,
    );
    const gt = await pool(
      o.gtConcurrency,
      gtSeeds.flatMap((seed) =>
        architectures.map(
          (architecture) => () =>
            standaloneTraining(trainings, architecture, seed, {
              steps: o.gtSteps,
              batchSize: o.gtBatchSize,
              dataset: gtDataset,
            }).then((r) => ({ architecture, seed, r })),
        ),
      ),
    );
    const truth = new Map<string, number[]>();
    for (const g of gt) {
      if (!g.r) continue;
      truth.set(g.architecture, [...(truth.get(g.architecture) ?? []), g.r.accuracy]);
    }
    const fresh = gt.filter((g) => g.r && !g.r.cached).length;
    parts.groundTruth = Date.now() - t0;
    console.log(
      `   ${gt.filter((g) => g.r).length} of ${gt.length} trainings done (${fresh} now, the rest cached)  (${minutesOf(parts.groundTruth)})`,
    );

    // 4. Hypervolume by ground truth.
    const scored = records.map((r) => {
      const members = scoredOf(r).map((c) => {
        const accs = truth.get(c.architecture) ?? [];
        return {
          ...c,
          groundTruth: accs.length ? accs.reduce((a, x) => a + x, 0) / accs.length : NaN,
          gtSeeds: accs.length,
        };
      });
      const complete = members.every((m) => m.gtSeeds === o.gtSeeds);
      const known = members.filter((m) => Number.isFinite(m.groundTruth));
      return {
        ...r,
        members,
        complete,
        hypervolume: normalizedHypervolume(
          known.map((m) => ({ accuracy: m.groundTruth, latencyMs: m.predictedLatencyMs })),
          budgetMs,
        ),
      };
    });
    for (const s of scored) {
      console.log(
        `   ${s.mode.padEnd(8)} seed ${s.seed}: hypervolume ${s.hypervolume.toFixed(4)} over ${s.members.length} of ${s.front.length} members` +
          `${s.complete ? '' : ' (INCOMPLETE: ground truth missing)'}; ` +
          s.members
            .map(
              (m) =>
                `${pct(m.groundTruth)} (job ${pct(m.accuracy)}) at ${m.predictedLatencyMs.toFixed(3)} ms`,
            )
            .join(', '),
      );
    }
    const summary = modes.map((mode) => {
      const runs = scored.filter((s) => s.mode === mode);
      return {
        mode,
        runs: runs.length,
        complete: runs.every((s) => s.complete) && runs.length === seeds.length,
        hypervolume: meanSd(runs.map((s) => s.hypervolume)),
        jobHypervolume: meanSd(runs.map((s) => s.jobHypervolume)),
        totalMinutes: meanSd(runs.map((s) => s.totalMs / 60000)),
        cpuMinutes: meanSd(runs.map((s) => s.cpuMs / 60000)),
        work: runs.map((s) => describeWork(s, supernetSteps)),
        frontSize: meanSd(runs.map((s) => s.front.length)),
      };
    });
    const random = summary.find((s) => s.mode === 'random')?.hypervolume.mean;
    const ratio = (x: number) => (random !== undefined && random > 0 ? x / random : NaN);
    console.log(
      `\nHypervolume by ground truth (${o.gtSteps} steps, mean of ${o.gtSeeds} seeds), ${o.minutes} min per job, ` +
        `seeds ${seeds.join(', ')}${o.maxFront ? `, at most ${o.maxFront} members per front` : ''}:`,
    );
    console.log(
      `   ${'mode'.padEnd(9)}${'hypervolume'.padStart(18)}${'/ random'.padStart(10)}${"job's own".padStart(11)}` +
        `${'wall'.padStart(16)}${'CPU'.padStart(16)}   work per job`,
    );
    const ms = (x: { mean: number; sd: number }, d = 4) => `${x.mean.toFixed(d)} ± ${x.sd.toFixed(d)}`;
    for (const s of summary) {
      console.log(
        `   ${s.mode.padEnd(9)}${ms(s.hypervolume).padStart(18)}${ratio(s.hypervolume.mean).toFixed(2).padStart(10)}` +
          `${s.jobHypervolume.mean.toFixed(4).padStart(11)}${`${ms(s.totalMinutes, 1)} min`.padStart(16)}` +
          `${`${ms(s.cpuMinutes, 1)} min`.padStart(16)}   ${s.work.join('; ')}${s.complete ? '' : '  (INCOMPLETE)'}`,
      );
    }
    const supernet = summary.find((s) => s.mode === 'supernet');
    if (supernet && random !== undefined) {
      const r = ratio(supernet.hypervolume.mean);
      // A job that cannot do its least work (supernet, one generation, finalists) in the minutes runs over them.
      const overrun = scored.filter((s) => s.totalMs > WALL_TOLERANCE * o.minutes * 60000);
      const verdict = !summary.every((s) => s.complete)
        ? 'not a verdict: runs or ground truth incomplete'
        : overrun.length > 0
          ? `not a verdict: ${overrun.map((s) => `${s.mode} seed ${s.seed}`).join(', ')} ran over ${WALL_TOLERANCE}× the minutes`
          : `${r >= 1.2 ? 'meets' : 'misses'} the 1.2× target`;
      console.log(`   supernet / random: ${r.toFixed(2)} (${verdict})`);
    }

    parts.total = Date.now() - started;
    console.log(
      `\nparts: LUT ${minutesOf(parts.lut)}, jobs ${minutesOf(parts.jobs)}, ground truth ${minutesOf(parts.groundTruth)}; ` +
        `total ${minutesOf(parts.total)}; load average now ${loadavg()
          .map((x) => x.toFixed(1))
          .join(', ')}`,
    );
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    fs.writeFileSync(
      path.resolve(o.out),
      JSON.stringify(
        { options: o, budgetMs, lutMeasuredAt: lut.measuredAt, parts, jobs: scored, summary },
        null,
        2,
      ),
    );
    console.log(`report: ${o.out}`);
  } finally {
    await stack.stop().catch(() => undefined);
    await storage.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What a job spent: proxy trainings, or supernet steps, subnets scored and finalist trainings. */
function describeWork(r: JobRecord, supernetSteps: number): string {
  if (r.mode === 'supernet')
    return `supernet ${supernetSteps} steps, ${r.trained} subnets scored, ${r.finalistTrainings} finalist trainings`;
  return `${r.trained} proxy trainings`;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
