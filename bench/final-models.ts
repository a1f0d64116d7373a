/**
 * The final-model pipeline on Fashion-MNIST, run by the worker's own activities (prepareTeacher,
 * trainFinalModel, quantizeFinalModel, then the verification and completion steps with no devices) on a real
 * SQLite database, outside Temporal (MockActivityEnvironment gives the activities their Context):
 *  1. Final training of 3 students (by default the Pareto front, accuracy vs fbnet-224 MACs, of the
 *     ground-truth architectures bench:accuracy cached; spread by crowding distance when the front has more):
 *     ORT float accuracy against the students' 300-step ground truth and 31-step short proxy; wall time, img/s.
 *  2. Distillation: every student with and without it, per seed; the teacher is the student most accurate
 *     after its own final training (its stored final model of the same seed, as the worker reuses it). Gain in
 *     points, mean ± sd; cost: teacher training, logit caching, student step time with vs without.
 *  3. INT8 vs float for every final model: accuracy drop, file size ratio, latency ratio on this CPU
 *     (interleaved, one thread, wall and CPU).
 * Each part reports wall and CPU time (CPU: this process plus its finished training children). Every final
 * model is cached (database and per-run record in --cache, keyed by architecture, seed, budget and
 * distillation): an interrupted run resumes; trainings themselves resume from their checkpoints.
 *
 *   npm run bench:final -- [--archs a,b,c] [--steps 200 | --epochs N] [--train 8000 --val 2000] [--seeds 1,2] …
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  DistillationSpec,
  FinalTrainingInput,
  ModelCard,
  NasJobInput,
  ProxyDatasetSpec,
} from '@edgenas/contracts';
import { FBNET_224, countCost, parseArchitecture } from '@edgenas/search-space';
import { crowdingDistance, paretoFront } from '@edgenas/search';
import { Storage, openStorage } from '@edgenas/storage';
import { describeDevice, ortVersion } from '@edgenas/device-benchmark';
import { createActivities } from '../apps/worker/src/activities';
import type { TeacherSummary, TrainedFinalModel } from '../apps/worker/src/model-card';
import { FINAL_TRAINING_DEFAULTS } from '../apps/api/src/final-models/final-models.dto';
import {
  finalTrainingGeometry,
  resolveFinalTraining,
} from '../apps/api/src/final-models/final-training-request';
import { FloatInt8Latency, floatOverInt8, measureFloatVsInt8 } from './float-int8-latency';
import { int } from './options';

interface Options {
  archs?: string;
  steps?: number;
  epochs?: number;
  train: number;
  val: number;
  seeds: string;
  accuracyCache: string;
  cache: string;
  rounds: number;
  repeats: number;
  threads: number;
  out?: string;
}

interface Student {
  readonly id: string;
  readonly architecture: string;
  /** MACs at the fbnet-224 deployment geometry. */
  readonly macs: number;
  /** bench:accuracy's 300-step accuracy, mean over its seeds (when it trained this architecture). */
  readonly groundTruth?: {
    readonly mean: number;
    readonly bySeed: readonly number[];
    readonly steps: number;
  };
  readonly shortProxy?: { readonly accuracy: number; readonly steps: number };
}

/** Wall and CPU time of one part; CPU counts this process and the training children it waited for. */
interface Cost {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** What one final model's run measured: cached on disk once each part is done. */
interface ModelRun {
  key: string;
  finalModelId: string;
  architectureId: string;
  seed: number;
  distilled: boolean;
  training?: Cost & { trained: TrainedFinalModel; imagesPerSecond: number };
  quantization?: Cost & { float: number; int8: number | null; card: ModelCard };
  latency?: Cost & { result: FloatInt8Latency };
}

const pts = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
const pct = (x: number | undefined) => (x === undefined ? '  n/a ' : `${(100 * x).toFixed(1).padStart(5)} %`);
const sec = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
const costText = (c: Cost) => `${sec(c.wallMs)} wall, ${sec(c.cpuMs)} CPU`;
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: readonly number[]) =>
  xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const hashKey = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 24);

/** A UUID-shaped id derived from a key (final model ids are UUIDs). */
function idOf(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** CPU time so far of this process (all threads) and of the children it has waited for (Linux /proc). */
function cpuMs(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name: state is field 3, cutime and cstime fields 16 and 17 (clock ticks, 100 Hz).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    children = (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    // not Linux: children's CPU is not counted
  }
  return (own.user + own.system) / 1000 + children;
}

/** This process's child processes still running or not yet reaped (Linux /proc; none elsewhere). */
function childPids(): string[] {
  try {
    return fs
      .readdirSync('/proc/self/task')
      .flatMap((tid) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(' '))
      .filter((pid) => pid !== '');
  } catch {
    return [];
  }
}

/**
 * Times `work`; the CPU time counts a training child once it is reaped, and an activity returns as soon as the
 * child reported its result, so the clock stops after the children have exited (waited for up to a minute).
 */
async function timed<T>(work: () => Promise<T>): Promise<Cost & { value: T }> {
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  const value = await work();
  const wallMs = performance.now() - wall0;
  for (let waited = 0; childPids().length > 0 && waited < 60_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { value, wallMs, cpuMs: cpuMs() - cpu0 };
}

/** Warnings and errors of the activities only: their info lines would drown the figures. */
const quietLogger: Logger = {
  log: (level, message, meta) => {
    if (level === 'WARN' || level === 'ERROR')
      console.warn(`  [${level}] ${message} ${JSON.stringify(meta ?? {})}`);
  },
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message, meta) => console.warn(`  [WARN] ${message} ${JSON.stringify(meta ?? {})}`),
  error: (message, meta) => console.warn(`  [ERROR] ${message} ${JSON.stringify(meta ?? {})}`),
};
const run = <P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> =>
  new MockActivityEnvironment(undefined, { logger: quietLogger }).run(fn, ...args);

interface AccuracyReport {
  options: { archs: number; seed: number; gtSteps: number };
  groundTruth?: {
    archs: { architecture: string; macs: number }[];
    bySeed: number[][];
    truth: number[];
  };
  shortProxy?: { steps: number; accuracies: number[] };
}

/**
 * bench:accuracy's ground truth (the report with the most seeds, all architectures measured) and short proxy
 * (a report of the same architectures), newest first.
 */
function readAccuracyReports(dir: string): { report: string; students: Student[] } {
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => /^report.*\.json$/.test(f))
        .map((f) => path.join(dir, f))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
    : [];
  const reports = files.map((f) => ({
    file: f,
    r: JSON.parse(fs.readFileSync(f, 'utf8')) as AccuracyReport,
  }));
  const truths = reports
    .filter(({ r }) => r.groundTruth && r.groundTruth.truth.every(Number.isFinite))
    .sort((a, b) => b.r.groundTruth!.bySeed.length - a.r.groundTruth!.bySeed.length);
  const gt = truths[0];
  if (!gt)
    throw new Error(`no complete ground truth in ${dir}/report*.json: run npm run bench:accuracy first`);
  const g = gt.r.groundTruth!;
  const short = reports.find(
    ({ r }) =>
      r.shortProxy?.accuracies.length === g.archs.length &&
      r.options.archs === gt.r.options.archs &&
      r.options.seed === gt.r.options.seed,
  );
  const students = g.archs.map((a, i) => ({
    id: `gt-${String(i).padStart(2, '0')}`,
    architecture: a.architecture,
    macs: a.macs,
    groundTruth: { mean: g.truth[i], bySeed: g.bySeed.map((s) => s[i]), steps: gt.r.options.gtSteps },
    ...(short?.r.shortProxy
      ? { shortProxy: { accuracy: short.r.shortProxy.accuracies[i], steps: short.r.shortProxy.steps } }
      : {}),
  }));
  return { report: path.relative(process.cwd(), gt.file), students };
}

/** The Pareto front of accuracy vs MACs; when it has more than `count` members, the most spread by crowding. */
function frontStudents(all: readonly Student[], count: number): Student[] {
  const points = all.map((s) => ({ student: s, accuracy: s.groundTruth!.mean, latencyMs: s.macs }));
  const front = paretoFront(points);
  if (front.length <= count) return front.map((p) => p.student);
  const crowding = crowdingDistance(front);
  return front
    .map((p, i) => ({ p, c: crowding[i] }))
    .sort((a, b) => b.c - a.c || a.p.latencyMs - b.p.latencyMs)
    .slice(0, count)
    .map(({ p }) => p.student)
    .sort((a, b) => a.macs - b.macs);
}

async function main(): Promise<void> {
  const o = new Command()
    .option(
      '--archs <list>',
      'student architectures, comma-separated (default: the ground-truth Pareto front)',
    )
    .option('--steps <n>', 'final-training steps per model', int(1, 1_000_000))
    .option('--epochs <n>', 'final-training epochs per model (instead of --steps)', int(1, 1000))
    .option('--train <n>', 'Fashion-MNIST training images', int(64, 60000), 8000)
    .option('--val <n>', 'Fashion-MNIST validation images', int(32, 10000), 2000)
    .option('--seeds <list>', 'seeds of every final model (weights, batch order, split)', '1,2')
    .option('--accuracy-cache <dir>', "bench:accuracy's cache and reports", '.edgenas/bench-accuracy')
    .option('--cache <dir>', 'database, files and per-model records of this bench', '.edgenas/bench-final')
    .option('--rounds <n>', 'interleaved latency rounds', int(1, 100), 9)
    .option('--repeats <n>', 'timed runs per file per round', int(1, 1000), 20)
    .option('--threads <n>', 'ONNX Runtime intra-op threads for latency', int(1, 64), 1)
    .option('--out <file>', 'JSON report (default: <cache>/report-<budget>.json)')
    .parse()
    .opts<Options>();
  if (o.steps !== undefined && o.epochs !== undefined) throw new Error('give --steps or --epochs, not both');
  const budget =
    o.steps === undefined && o.epochs === undefined
      ? { steps: 200 }
      : o.steps !== undefined
        ? { steps: o.steps }
        : { epochs: o.epochs! };
  const seeds = o.seeds.split(',').map(Number);
  if (!seeds.every(Number.isInteger) || seeds.length === 0)
    throw new Error(`--seeds: integers, got ${o.seeds}`);
  const started = Date.now();
  const device = describeDevice('bench', o.threads);
  console.log(
    `final-model bench: ${device.hardware.cpuModel}, ${device.hardware.cores} cores, ORT ${ortVersion()}; ` +
      `load average at start ${loadavg()}`,
  );

  // Students.
  const { report, students: truthArchs } = readAccuracyReports(o.accuracyCache);
  let students: Student[];
  let source: string;
  if (o.archs) {
    students = o.archs.split(',').map((architecture) => {
      const known = truthArchs.find((s) => s.architecture === architecture);
      const macs = countCost(parseArchitecture(architecture, FBNET_224), FBNET_224).macs;
      return known ?? { id: `arch-${hashKey(architecture).slice(0, 8)}`, architecture, macs };
    });
    source = '--archs';
  } else {
    students = frontStudents(truthArchs, 3);
    source =
      `Pareto front (ground-truth accuracy vs fbnet-224 MACs) of the ${truthArchs.length} architectures of ` +
      `${report}, spread by crowding distance`;
  }
  console.log(`\nstudents (${source}):`);
  for (const s of students) {
    console.log(
      `  ${s.id}  ${(s.macs / 1e6).toFixed(0).padStart(4)} M MACs @ fbnet-224  ground truth ${pct(s.groundTruth?.mean)}` +
        `  short proxy ${pct(s.shortProxy?.accuracy)}  ${s.architecture}`,
    );
  }

  // A completed job of Fashion-MNIST deploying at fbnet-224, holding the students as trained candidates.
  fs.mkdirSync(o.cache, { recursive: true });
  const dataDir = path.resolve(o.cache, 'data');
  // The dataset cache of the other benches, so Fashion-MNIST is not parsed again.
  const sharedDatasets = path.resolve('.edgenas', 'datasets');
  if (!fs.existsSync(path.join(dataDir, 'datasets')) && fs.existsSync(sharedDatasets)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.symlinkSync(sharedDatasets, path.join(dataDir, 'datasets'));
  }
  const dataset: ProxyDatasetSpec = { kind: 'fashion-mnist', trainSize: o.train, valSize: o.val };
  const jobId = `bench-final-${hashKey({ dataset, budget })}`;
  const job: NasJobInput = {
    jobId,
    deviceIds: [],
    latencyBudgetMs: 1000,
    space: FBNET_224.name,
    input: FBNET_224.input,
    classes: FBNET_224.classes,
    proxy: { dataset, epochs: 1, batchSize: FINAL_TRAINING_DEFAULTS.batchSize, resolution: 28 },
    budget: {
      generations: 1,
      population: students.length,
      maxTrainedCandidates: students.length,
      wallClockSeconds: 1,
    },
    strategy: 'nsga2',
    seed: seeds[0],
  };
  const storage: Storage = await openStorage(`sqlite:${path.resolve(o.cache, 'db.sqlite')}`);
  const activities = createActivities({ db: storage.handle.db, dataDir, finalVerificationTimeoutMs: 0 });
  await storage.jobs.create(job, 'completed');
  for (const s of students) {
    await storage.candidates.upsert({
      jobId,
      architectureId: s.id,
      architecture: s.architecture,
      generation: 0,
      status: 'trained',
      accuracy: s.groundTruth?.mean ?? null,
      macs: s.macs,
    });
  }
  const geometry = finalTrainingGeometry(job);
  console.log(`geometry: ${geometry.reason}; job ${jobId}, cache ${o.cache}`);
  const runsDir = path.join(o.cache, 'runs');
  fs.mkdirSync(runsDir, { recursive: true });

  /** One final model through the worker's activities, each part cached once done. */
  async function finalModel(
    student: Student,
    seed: number,
    distillation: DistillationSpec | undefined,
    teacher: TeacherSummary | undefined,
  ): Promise<ModelRun> {
    const spec = resolveFinalTraining(
      {
        ...budget,
        seed,
        ...(distillation
          ? { distillation: { temperature: distillation.temperature, weight: distillation.weight } }
          : {}),
      },
      job,
      distillation,
    );
    const key = hashKey({ architecture: student.architecture, seed, dataset, budget, spec });
    const file = path.join(runsDir, `${key}.json`);
    const r: ModelRun = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as ModelRun)
      : { key, finalModelId: idOf(key), architectureId: student.id, seed, distilled: !!distillation };
    const save = () => fs.writeFileSync(file, JSON.stringify(r));
    const input: FinalTrainingInput = {
      finalModelId: r.finalModelId,
      jobId,
      architectureId: student.id,
      architecture: student.architecture,
      deployment: { space: job.space, input: job.input, classes: job.classes, deviceIds: job.deviceIds },
      geometry,
      spec,
    };
    if (!(await storage.finalModels.get(r.finalModelId))) {
      await storage.finalModels.create({
        id: r.finalModelId,
        jobId,
        architectureId: student.id,
        architecture: student.architecture,
        request: spec,
      });
    }
    const label = `${student.id} seed ${seed}${distillation ? ' distilled' : ''}`;
    if (!r.training) {
      await activities.setFinalModelStatus({ finalModelId: r.finalModelId, status: 'running' });
      const t = await timed(() =>
        run(activities.trainFinalModel, { input, ...(teacher ? { teacher } : {}) }),
      );
      const stored = await storage.finalModels.get(r.finalModelId);
      const imagesPerSecond =
        (stored?.training as { imagesPerSecond?: number } | null)?.imagesPerSecond ?? NaN;
      r.training = { wallMs: t.wallMs, cpuMs: t.cpuMs, trained: t.value, imagesPerSecond };
      save();
      console.log(
        `  ${label}: trained ${t.value.steps} steps in ${costText(t)}, ${imagesPerSecond.toFixed(0)} img/s, ` +
          `tfjs val ${pct(t.value.valAccuracy)}  (load ${loadavg()})`,
      );
    }
    if (!r.quantization) {
      let predictedLatencyMs: Record<string, number> = {};
      let latencyWarning: string | undefined;
      try {
        const [priced] = await activities.predictLatency({
          deviceIds: input.deployment.deviceIds,
          space: input.deployment.space,
          input: input.deployment.input,
          classes: input.deployment.classes,
          architectures: [input.architecture],
        });
        predictedLatencyMs = priced.latencyByDevice;
      } catch (err) {
        latencyWarning = `latency could not be predicted: ${String(err)}`;
      }
      const q = await timed(() =>
        run(activities.quantizeFinalModel, {
          input,
          trained: r.training!.trained,
          ...(teacher ? { teacher } : {}),
          predictedLatencyMs,
          ...(latencyWarning ? { latencyWarning } : {}),
        }),
      );
      const { requestIds } = await activities.requestFinalModelVerification({ input });
      const measured = await run(activities.awaitFinalModelVerification, { requestIds });
      await activities.completeFinalModel({ finalModelId: r.finalModelId, measured });
      const card = (await storage.finalModels.get(r.finalModelId))?.card;
      if (!card) throw new Error(`final model ${r.finalModelId} completed without a card`);
      r.quantization = { wallMs: q.wallMs, cpuMs: q.cpuMs, float: q.value.float, int8: q.value.int8, card };
      save();
      console.log(
        `  ${label}: float ${pct(q.value.float)}, INT8 ${pct(q.value.int8 ?? undefined)} in ORT ` +
          `(quantized and evaluated in ${costText(q)})`,
      );
    }
    return r;
  }

  const runs: ModelRun[] = [];
  const partCost: Record<string, Cost> = {};
  const addCost = (part: string, c: Cost) => {
    const prev = partCost[part] ?? { wallMs: 0, cpuMs: 0 };
    partCost[part] = { wallMs: prev.wallMs + c.wallMs, cpuMs: prev.cpuMs + c.cpuMs };
  };
  const sumRun = (part: string, r: ModelRun) => {
    if (r.training) addCost(`${part}: training`, r.training);
    if (r.quantization) addCost(`${part}: INT8 quantization and ORT evaluation`, r.quantization);
  };

  // 1. Final training without distillation.
  console.log(
    `\n1. Final training: ${'steps' in budget ? `${budget.steps} steps` : `${budget.epochs} epochs`} × ` +
      `${FINAL_TRAINING_DEFAULTS.batchSize}, Fashion-MNIST ${o.train} train / ${o.val} val, seeds ${seeds.join(', ')} ` +
      '(other settings: the final-training defaults)',
  );
  const plain = new Map<string, ModelRun[]>();
  for (const seed of seeds) {
    for (const s of students) {
      const r = await finalModel(s, seed, undefined, undefined);
      runs.push(r);
      sumRun('1. final training', r);
      plain.set(s.id, [...(plain.get(s.id) ?? []), r]);
    }
  }
  const floatOf = (r: ModelRun) => r.quantization!.float;
  console.log(
    `\n  student   ground truth (${students[0].groundTruth?.steps ?? 300} steps, 2 seeds)  short proxy  ` +
      'final float (ORT, per seed)   mean    training wall   img/s',
  );
  for (const s of students) {
    const rs = plain.get(s.id)!;
    console.log(
      `  ${s.id.padEnd(8)}  ${pct(s.groundTruth?.mean).padStart(28)}  ${pct(s.shortProxy?.accuracy).padStart(11)}  ` +
        `${rs
          .map((r) => pct(floatOf(r)))
          .join(', ')
          .padStart(27)}  ${pct(mean(rs.map(floatOf)))}  ` +
        `${rs
          .map((r) => sec(r.training!.wallMs))
          .join(', ')
          .padStart(14)}  ` +
        `${rs.map((r) => r.training!.imagesPerSecond.toFixed(0)).join(', ')}`,
    );
  }
  console.log(`  trained at ${runs[0].quantization!.card.geometry.trained}: ${geometry.reason}`);

  // 2. Distillation: the teacher is the student most accurate after its own final training.
  const teacherStudent = [...students].sort(
    (a, b) => mean(plain.get(b.id)!.map(floatOf)) - mean(plain.get(a.id)!.map(floatOf)),
  )[0];
  const distillation: DistillationSpec = {
    teacherArchitectureId: teacherStudent.id,
    teacherArchitecture: teacherStudent.architecture,
    teacherSource: 'best-final-model',
    temperature: FINAL_TRAINING_DEFAULTS.temperature,
    weight: FINAL_TRAINING_DEFAULTS.weight,
  };
  console.log(
    `\n2. Distillation (T ${distillation.temperature}, α ${distillation.weight}): teacher ${teacherStudent.id}, ` +
      `the most accurate student after its own final training (mean float ${pct(mean(plain.get(teacherStudent.id)!.map(floatOf)))}); ` +
      'per seed its stored final model of that seed teaches',
  );
  const teacherCosts: { seed: number; logits: Cost; teacher: TeacherSummary }[] = [];
  const distilled = new Map<string, ModelRun[]>();
  for (const seed of seeds) {
    const spec = resolveFinalTraining({ ...budget, seed, distillation: {} }, job, distillation);
    const key = hashKey({ teacher: teacherStudent.architecture, seed, dataset, budget, spec });
    const file = path.join(runsDir, `teacher-${key}.json`);
    let entry: { seed: number; logits: Cost; teacher: TeacherSummary };
    if (fs.existsSync(file)) entry = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof entry;
    else {
      const input: FinalTrainingInput = {
        finalModelId: idOf(`teacher-${key}`),
        jobId,
        architectureId: teacherStudent.id,
        architecture: teacherStudent.architecture,
        deployment: { space: job.space, input: job.input, classes: job.classes, deviceIds: job.deviceIds },
        geometry,
        spec,
      };
      const t = await timed(() => run(activities.prepareTeacher, input));
      entry = { seed, logits: { wallMs: t.wallMs, cpuMs: t.cpuMs }, teacher: t.value };
      fs.writeFileSync(file, JSON.stringify(entry));
    }
    teacherCosts.push(entry);
    addCost('2. distillation: teacher logits', entry.logits);
    console.log(
      `  seed ${seed}: teacher ${entry.teacher.trained}, ORT val ${pct(entry.teacher.accuracy)}; logits of the ` +
        `training split cached in ${costText(entry.logits)}`,
    );
    for (const s of students) {
      const r = await finalModel(s, seed, distillation, entry.teacher);
      runs.push(r);
      sumRun('2. distillation', r);
      distilled.set(s.id, [...(distilled.get(s.id) ?? []), r]);
    }
  }
  const gains: number[] = [];
  console.log(
    '\n  student   without (per seed)     with (per seed)        gain, points (mean ± sd)   step time without → with',
  );
  for (const s of students) {
    const without = plain.get(s.id)!;
    const withD = distilled.get(s.id)!;
    const g = seeds.map((_, i) => 100 * (floatOf(withD[i]) - floatOf(without[i])));
    gains.push(...g);
    const step = (rs: ModelRun[]) =>
      mean(rs.map((r) => (1000 * FINAL_TRAINING_DEFAULTS.batchSize) / r.training!.imagesPerSecond));
    console.log(
      `  ${s.id.padEnd(8)}  ${without
        .map((r) => pct(floatOf(r)))
        .join(', ')
        .padEnd(21)}  ` +
        `${withD
          .map((r) => pct(floatOf(r)))
          .join(', ')
          .padEnd(21)}  ` +
        `${pts(mean(g))} ± ${sd(g).toFixed(1)} (${g.map(pts).join(', ')})`.padEnd(27) +
        `  ${step(without).toFixed(0)} → ${step(withD).toFixed(0)} ms`,
    );
  }
  const teacherTraining = plain.get(teacherStudent.id)!.map((r) => r.training!);
  console.log(
    `  all students: gain ${pts(mean(gains))} ± ${sd(gains).toFixed(1)} points over ${gains.length} pairs; ` +
      `cost: teacher training ${teacherTraining.map(costText).join(' / ')} (its own final training, reused), ` +
      `logit caching ${teacherCosts.map((t) => costText(t.logits)).join(' / ')}`,
  );

  // 3. INT8 vs float, every final model.
  console.log(
    `\n3. INT8 vs float, every final model: ORT top-1 on ${o.val} validation images; latency on this CPU, ` +
      `${o.threads} thread(s), ${o.rounds} interleaved rounds × ${o.repeats} runs (estimate: median of per-round p10)`,
  );
  console.log(
    '  model                     float    INT8    drop   size float/INT8   latency float/INT8 wall, CPU (ms)',
  );
  for (const r of runs) {
    const file = path.join(runsDir, `${r.key}.json`);
    const card = r.quantization!.card;
    if (!r.latency) {
      const float = await storage.finalModels.file(r.finalModelId, 'float');
      const int8 = await storage.finalModels.file(r.finalModelId, 'int8');
      if (!float || !int8) throw new Error(`final model ${r.finalModelId} lacks a file`);
      const { height, width, channels } = card.geometry.input;
      const t = await timed(() => measureFloatVsInt8(float, int8, [1, channels, height, width], o));
      r.latency = { wallMs: t.wallMs, cpuMs: t.cpuMs, result: t.value };
      fs.writeFileSync(file, JSON.stringify(r));
    }
    addCost('3. INT8 latency measurement', r.latency);
    const l = r.latency.result;
    const drop = 100 * (r.quantization!.float - (r.quantization!.int8 ?? NaN));
    console.log(
      `  ${`${r.architectureId} seed ${r.seed}${r.distilled ? ' dist.' : ''}`.padEnd(22)}  ${pct(r.quantization!.float)} ` +
        `${pct(r.quantization!.int8 ?? undefined)}  ${drop.toFixed(1).padStart(5)}   ` +
        `${(card.files.float.bytes / 1e3).toFixed(0)}/${((card.files.int8?.bytes ?? NaN) / 1e3).toFixed(0)} kB ` +
        `${(card.files.float.bytes / (card.files.int8?.bytes ?? NaN)).toFixed(2)}×   ` +
        `${l.wall[0].estimateMs.toFixed(2)}/${l.wall[1].estimateMs.toFixed(2)} ${floatOverInt8(l, 'wall').toFixed(2)}×, ` +
        `${l.cpu[0].estimateMs.toFixed(2)}/${l.cpu[1].estimateMs.toFixed(2)} ${floatOverInt8(l, 'cpu').toFixed(2)}×`,
    );
  }
  const drops = runs.map((r) => 100 * (r.quantization!.float - (r.quantization!.int8 ?? NaN)));
  console.log(
    `  drop: mean ${mean(drops).toFixed(2)}, max ${Math.max(...drops).toFixed(2)} points (target ≤ 1); ` +
      `${drops.filter((d) => d <= 1).length} of ${drops.length} within`,
  );
  console.log(
    '  FBNet-B at 224×224×3 (untrained, bench:int8, README "INT8 quantization"): not rerun here; ' +
      'there float/INT8 was 3.77× in size, 1.21× wall, 1.04× CPU in latency',
  );

  console.log(
    '\nparts (as recorded per model: a part an interrupted earlier run measured counts with its own time):',
  );
  for (const [part, c] of Object.entries(partCost)) console.log(`  ${part.padEnd(52)} ${costText(c)}`);
  console.log(`whole run: ${sec(Date.now() - started)} wall; load average at end ${loadavg()}`);

  const out = o.out ?? path.join(o.cache, `report-${hashKey({ dataset, budget, seeds })}.json`);
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        options: o,
        budget,
        source,
        students,
        teacher: { ...distillation, costs: teacherCosts },
        runs,
        parts: partCost,
        loadAverageAtEnd: os.loadavg(),
      },
      null,
      1,
    ),
  );
  console.log(`report: ${out}`);
  await storage.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
