import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  BaselineSummary,
  CandidateSummary,
  DEFAULT_SUPERNET_SEED,
  JOB_PRESETS,
  NAS_JOB_WORKFLOW,
  NasJobInput,
  NasJobProgress,
  NasJobResult,
  TASK_QUEUES,
} from '@edgenas/contracts';
import { buildLut, fastestAchievableLatency, spaceSignatures } from '@edgenas/latency-predictor';
import { BlockMeasurement } from '@edgenas/latency-predictor/measurement';
import { PROXY_28 } from '@edgenas/search-space';
import { openStorage, Storage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  RecordingJobWorkflows,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';

const API_PORT = 3110;
const API_PORT_NO_TEMPORAL = 3111;
const API_PORT_STUB_PROGRESS = 3112;
const TEMPORAL_PORT = 7310;
const UNUSED_TEMPORAL_PORT = 7319;
const TEMPORAL_CLI = join(__dirname, '..', '.tools', 'bin', 'temporal');

const SYNTHETIC_JOB = {
  space: 'proxy-28',
  proxy: {
    dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
    epochs: 1,
    batchSize: 16,
    resolution: 28,
  },
  budget: { generations: 2, population: 4, maxTrainedCandidates: 8, wallClockSeconds: 120 },
  strategy: 'random',
  seed: 42,
  // Per-candidate training, small budgets: explicit, so no preset's numbers leak in.
  evaluation: { mode: 'standalone', baselines: false },
};

async function registerCoveredDevice(api: ApiTestContext, name: string, rows?: BlockMeasurement[]) {
  const res = await api
    .http()
    .post('/v1/devices')
    .set(...auth(USER_KEY))
    .send({ name, profile: PROFILE });
  const device: { id: string; token: string } = res.body;
  if (rows) {
    const up = await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: rows });
    expect(up.body.accepted).toBe(rows.length);
  }
  return device;
}

describe('API: jobs on a real Temporal dev server, no worker (the workflow stays running; LUT rows are synthetic)', () => {
  let env: TestWorkflowEnvironment;
  let api: ApiTestContext;
  let covered: { id: string; token: string };
  let uncovered: { id: string; token: string };
  let fastestMs: number;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: TEMPORAL_CLI }, port: TEMPORAL_PORT, ui: false },
    });
    api = await startApiForTest(API_PORT, { temporal: { client: env.client } });
    const rows = spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s));
    covered = await registerCoveredDevice(api, 'covered', rows);
    uncovered = await registerCoveredDevice(api, 'uncovered');
    fastestMs = fastestAchievableLatency(PROXY_28, buildLut(rows)).latencyMs;
  });
  afterAll(async () => {
    await api?.close();
    await env?.teardown();
  });

  function createJob(body: Record<string, unknown>) {
    return api
      .http()
      .post('/v1/jobs')
      .set(...auth(USER_KEY))
      .send(body);
  }

  it.each([
    ['no devices', { deviceIds: [] }, 'deviceIds'],
    ['a negative budget', { latencyBudgetMs: -1 }, 'latencyBudgetMs'],
    ['an unknown strategy', { strategy: 'annealing' }, 'strategy'],
    ['a vanishing input', { input: { height: 2, width: 28, channels: 1 } }, 'input.height'],
    ['an unknown space', { space: 'resnet-50' }, 'space'],
    ['an unknown nested field', { budget: { generations: 2, epochs: 3 } }, 'budget.epochs'],
    [
      'an image folder without a path',
      { proxy: { dataset: { kind: 'image-folder' } } },
      'proxy.dataset.path',
    ],
    ['an unknown preset', { preset: 'huge' }, 'preset'],
    ['an unknown evaluation mode', { evaluation: { mode: 'oneshot' } }, 'evaluation.mode'],
    ['a single finalist seed', { evaluation: { finalists: { seeds: 1 } } }, 'evaluation.finalists.seeds'],
    [
      'an unknown supernet sampling',
      { evaluation: { supernet: { sampling: 'greedy' } } },
      'evaluation.supernet.sampling',
    ],
    ['a negative supernet seed', { evaluation: { supernet: { seed: -1 } } }, 'evaluation.supernet.seed'],
    ['a fractional supernet seed', { evaluation: { supernet: { seed: 1.5 } } }, 'evaluation.supernet.seed'],
    ['baselines that are not a boolean', { evaluation: { baselines: 'yes' } }, 'evaluation.baselines'],
    [
      'supernet settings in standalone mode',
      { evaluation: { mode: 'standalone', supernet: { steps: 10 } } },
      'evaluation.supernet',
    ],
  ])('refuses a job with %s (400 naming the field)', async (_name, patch, field) => {
    const res = await createJob({
      ...SYNTHETIC_JOB,
      deviceIds: [covered.id],
      latencyBudgetMs: 1000,
      ...patch,
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('refuses unknown devices (404), uncovered LUTs (409 with the count) and impossible budgets (422 with the figure)', async () => {
    const unknown = await createJob({
      ...SYNTHETIC_JOB,
      deviceIds: [covered.id, 'ghost'],
      latencyBudgetMs: 1000,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors).toEqual([{ field: 'deviceIds.1', reason: 'unknown device "ghost"' }]);

    const noLut = await createJob({ ...SYNTHETIC_JOB, deviceIds: [uncovered.id], latencyBudgetMs: 1000 });
    expect(noLut.status).toBe(409);
    expect(noLut.body.missingCount).toBe(spaceSignatures(PROXY_28).length);
    expect(noLut.body.message).toMatch(/lacks \d+ block signature\(s\) for proxy-28; run a device agent/);

    const impossible = await createJob({
      ...SYNTHETIC_JOB,
      deviceIds: [covered.id],
      latencyBudgetMs: fastestMs * 0.9,
    });
    expect(impossible.status).toBe(422);
    expect(impossible.body.fastestAchievableMs).toBeCloseTo(fastestMs, 9);
    expect(impossible.body.errors[0].field).toBe('latencyBudgetMs');
    expect(impossible.body.message).toContain(fastestMs.toFixed(3));

    const list = await api
      .http()
      .get('/v1/jobs')
      .set(...auth(USER_KEY));
    expect(list.body).toEqual([]);
  });

  it('refuses a dataset too small for the evaluation (400 naming the field and the reason)', async () => {
    const refuse = async (patch: Record<string, unknown>) => {
      const res = await createJob({
        ...SYNTHETIC_JOB,
        deviceIds: [covered.id],
        latencyBudgetMs: 1000,
        ...patch,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      return res.body.errors as { field: string; reason: string }[];
    };
    const synthetic = (trainSize: number, valSize: number) => ({
      proxy: { ...SYNTHETIC_JOB.proxy, dataset: { kind: 'synthetic', trainSize, valSize } },
    });
    // More images to score subnets on than the validation set holds.
    expect(await refuse({ ...synthetic(64, 32), evaluation: { supernet: { scoreImages: 33 } } })).toEqual([
      {
        field: 'evaluation.supernet.scoreImages',
        reason: '33 images to score on, but the validation set (proxy.dataset.valSize) has 32',
      },
    ]);
    // A training set smaller than one supernet batch and one finalist batch (both named).
    expect(
      await refuse({
        ...synthetic(64, 32),
        evaluation: { supernet: { batchSize: 65, scoreImages: 32 }, finalists: { batchSize: 128 } },
      }),
    ).toEqual([
      {
        field: 'proxy.dataset.trainSize',
        reason:
          'the training set (64 images) is smaller than one batch of evaluation.supernet.batchSize (65)',
      },
      {
        field: 'proxy.dataset.trainSize',
        reason:
          'the training set (64 images) is smaller than one batch of evaluation.finalists.batchSize (128)',
      },
    ]);
    // The preset's batches (64) do not fit 32 training images either; nor does a standalone batch of 48.
    expect(
      (await refuse({ ...synthetic(32, 32), evaluation: { mode: 'supernet' } })).map((e) => e.field),
    ).toEqual(['proxy.dataset.trainSize', 'proxy.dataset.trainSize']);
    const standalone = await refuse({
      proxy: {
        ...SYNTHETIC_JOB.proxy,
        batchSize: 48,
        dataset: { kind: 'synthetic', trainSize: 32, valSize: 32 },
      },
    });
    expect(standalone).toEqual([
      {
        field: 'proxy.dataset.trainSize',
        reason: 'the training set (32 images) is smaller than one batch of proxy.batchSize (48)',
      },
    ]);
  });

  it('creates the job row and starts the workflow with the job input on the light queue', async () => {
    const budget = fastestMs * 1.5;
    const res = await createJob({ ...SYNTHETIC_JOB, deviceIds: [covered.id], latencyBudgetMs: budget });
    expect(res.status).toBe(202);
    const jobId: string = res.body.id;
    const expectedInput: NasJobInput = {
      jobId,
      deviceIds: [covered.id],
      latencyBudgetMs: budget,
      space: 'proxy-28',
      input: PROXY_28.input,
      classes: PROXY_28.classes,
      proxy: SYNTHETIC_JOB.proxy as NasJobInput['proxy'],
      budget: SYNTHETIC_JOB.budget,
      strategy: 'random',
      seed: 42,
      precision: 'fp32',
      evaluation: { mode: 'standalone', baselines: false },
    };
    expect(res.body.input).toEqual(expectedInput);

    const handle = env.client.workflow.getHandle(jobId);
    const description = await handle.describe();
    expect(description.type).toBe(NAS_JOB_WORKFLOW);
    expect(description.taskQueue).toBe(TASK_QUEUES.light);
    expect(description.status.name).toBe('RUNNING');
    const history = await handle.fetchHistory();
    const started = history.events?.[0].workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0]?.data;
    expect(JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8'))).toEqual(expectedInput);

    const storage = await openStorage(api.databaseUrl);
    try {
      expect((await storage.jobs.get(jobId))?.input).toEqual(expectedInput);
    } finally {
      await storage.close();
    }

    const view = await api
      .http()
      .get(`/v1/jobs/${jobId}`)
      .set(...auth(USER_KEY));
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      id: jobId,
      status: 'queued',
      workflowStatus: 'running',
      progress: null,
    });
    const list = await api
      .http()
      .get('/v1/jobs')
      .set(...auth(USER_KEY));
    expect(list.body.map((j: { id: string }) => j.id)).toEqual([jobId]);
    const pareto = await api
      .http()
      .get(`/v1/jobs/${jobId}/pareto`)
      .set(...auth(USER_KEY));
    expect(pareto.body).toMatchObject({ jobId, final: false, front: [] });
    expect(
      (
        await api
          .http()
          .get(`/v1/jobs/${jobId}/candidates`)
          .set(...auth(USER_KEY))
      ).body,
    ).toEqual([]);
    const model = await api
      .http()
      .get(`/v1/jobs/${jobId}/architectures/abc/model.onnx`)
      .set(...auth(USER_KEY));
    expect(model.status).toBe(404);
    expect(
      (
        await api
          .http()
          .get('/v1/jobs/nope')
          .set(...auth(USER_KEY))
      ).status,
    ).toBe(404);

    // the active job's geometry is work for its device's agent
    const work = await api
      .http()
      .get(`/v1/devices/${covered.id}/work`)
      .set(...auth(covered.token));
    expect(work.body.spaces).toEqual(['proxy-28']);
    expect(work.body.missing).toEqual([]);

    const cancel = await api
      .http()
      .post(`/v1/jobs/${jobId}/cancel`)
      .set(...auth(USER_KEY));
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancelRequested).toBe(true);
    const after = await handle.fetchHistory();
    expect(after.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes)).toBe(true);

    // a workflow that ended without a worker recording it (terminated here) cannot be cancelled again
    await handle.terminate('test: no worker');
    const again = await api
      .http()
      .post(`/v1/jobs/${jobId}/cancel`)
      .set(...auth(USER_KEY));
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/no longer running \(terminated\)/);
    const ended = await api
      .http()
      .get(`/v1/jobs/${jobId}`)
      .set(...auth(USER_KEY));
    expect(ended.body).toMatchObject({ status: 'queued', workflowStatus: 'terminated', progress: null });
  });

  it('fills the quick preset under the explicit fields and starts the workflow with the resolved input', async () => {
    const budget = fastestMs * 1.5;
    const startedInput = async (jobId: string): Promise<NasJobInput> => {
      const history = await env.client.workflow.getHandle(jobId).fetchHistory();
      const payload = history.events?.[0].workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      return JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')) as NasJobInput;
    };
    const create = async (body: Record<string, unknown>) => {
      const res = await createJob({
        deviceIds: [covered.id],
        latencyBudgetMs: budget,
        space: 'proxy-28',
        ...body,
      });
      expect(res.status).toBe(202);
      const input = res.body.input as NasJobInput;
      expect(await startedInput(input.jobId)).toEqual(input);
      await env.client.workflow.getHandle(input.jobId).terminate('test: no worker');
      return input;
    };

    // Nothing but the essentials: the quick preset throughout, supernet mode.
    const quick = await create({ seed: 3 });
    expect(quick.proxy).toEqual({
      dataset: {
        kind: 'fashion-mnist',
        trainSize: JOB_PRESETS.quick.trainSize,
        valSize: JOB_PRESETS.quick.valSize,
      },
      epochs: 1,
      batchSize: 32,
      resolution: 28,
    });
    expect(quick.budget).toEqual(JOB_PRESETS.quick.budget);
    // The supernet's seed is not the job's: jobs that differ only in it share one supernet.
    const quickSupernet = { ...JOB_PRESETS.quick.evaluation.supernet, seed: DEFAULT_SUPERNET_SEED };
    expect(quick.evaluation).toEqual({ ...JOB_PRESETS.quick.evaluation, supernet: quickSupernet });
    expect(quick.evaluation?.mode).toBe('supernet');
    const ownSupernet = await create({ seed: 3, evaluation: { supernet: { seed: 11 } } });
    expect(ownSupernet.evaluation?.supernet).toEqual({ ...quickSupernet, seed: 11 });

    // Another preset; explicit fields win one by one; the preset's score subset is capped at the validation set.
    const standard = JOB_PRESETS.standard;
    const mixed = await create({
      preset: 'standard',
      proxy: { dataset: { kind: 'synthetic', trainSize: 512, valSize: 100 } },
      budget: { generations: 3 },
      evaluation: { supernet: { steps: 50, sampling: 'fair' }, finalists: { seeds: 3 }, baselines: false },
    });
    expect(mixed.proxy.dataset).toEqual({ kind: 'synthetic', trainSize: 512, valSize: 100 });
    expect(mixed.budget).toEqual({ ...standard.budget, generations: 3 });
    expect(mixed.evaluation).toEqual({
      mode: 'supernet',
      supernet: {
        ...standard.evaluation.supernet,
        steps: 50,
        sampling: 'fair',
        scoreImages: 100,
        seed: DEFAULT_SUPERNET_SEED,
      },
      finalists: { ...standard.evaluation.finalists, seeds: 3 },
      baselines: false,
    });

    // Standalone: no supernet; baselines only on request, then with the finalists' budget to train them.
    const standalone = await create({ evaluation: { mode: 'standalone' } });
    expect(standalone.evaluation).toEqual({ mode: 'standalone', baselines: false });
    const withBaselines = await create({
      preset: 'thorough',
      evaluation: { mode: 'standalone', baselines: true, finalists: { steps: 100 } },
    });
    expect(withBaselines.evaluation).toEqual({
      mode: 'standalone',
      baselines: true,
      finalists: { ...JOB_PRESETS.thorough.evaluation.finalists, steps: 100 },
    });
    expect(withBaselines.proxy.dataset).toMatchObject({ trainSize: JOB_PRESETS.thorough.trainSize });
  });
});

describe('API: job creation while Temporal is unreachable (nothing listens on its address)', () => {
  let api: ApiTestContext;
  beforeAll(async () => {
    api = await startApiForTest(API_PORT_NO_TEMPORAL, {
      temporal: { address: `127.0.0.1:${UNUSED_TEMPORAL_PORT}` },
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers 503 and leaves no job row behind', async () => {
    const rows = spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s));
    const device = await registerCoveredDevice(api, 'covered', rows);
    const res = await api
      .http()
      .post('/v1/jobs')
      .set(...auth(USER_KEY))
      .send({ ...SYNTHETIC_JOB, deviceIds: [device.id], latencyBudgetMs: 1000 });
    expect(res.status).toBe(503);
    expect(res.body.message).not.toContain('ECONNREFUSED');
    expect(
      (
        await api
          .http()
          .get('/v1/jobs')
          .set(...auth(USER_KEY))
      ).body,
    ).toEqual([]);
  });
});

/** Reports a fixed progress for every job, as a worker's progress query would. */
class FixedProgressWorkflows extends RecordingJobWorkflows {
  constructor(private readonly fixed: NasJobProgress) {
    super();
  }
  override async progress(): Promise<NasJobProgress> {
    return this.fixed;
  }
}

describe('API: job views and fronts carry the evaluation results (stored result, a stub progress; no Temporal)', () => {
  const member = (id: string, accuracy: number, latencyMs: number): CandidateSummary => ({
    architectureId: id,
    architecture: `arch-${id}`,
    accuracy,
    predictedLatencyMs: latencyMs,
    predictedLatencyByDevice: { dev: latencyMs },
    macs: 1e6,
    params: 1e4,
  });
  const finalist: CandidateSummary = {
    ...member('f1', 0.8, 0.1),
    accuracySource: 'retrained',
    supernetAccuracy: 0.74,
    accuracySd: 0.01,
    seedAccuracies: [0.79, 0.81],
    tiedWith: ['f2'],
  };
  const baseline: BaselineSummary = {
    ...member('b1', 0.7, 0.2),
    accuracySource: 'retrained',
    accuracySd: 0.02,
    seedAccuracies: [0.68, 0.72],
    baseline: 'mobilenetv2-like',
    coveredByFront: true,
  };
  const result: NasJobResult = {
    front: [finalist],
    trained: 0,
    scored: 120,
    hypervolume: 0.42,
    evaluationMode: 'supernet',
    searchFront: [{ ...member('f1', 0.74, 0.1), accuracySource: 'supernet' }],
    baselines: [baseline],
    supernet: { key: 'k', steps: 100, reused: false, trainingMs: 1234, sha256: 'abc' },
    stoppedBy: 'budget',
  };
  const progress: NasJobProgress = {
    status: 'running',
    generation: 1,
    generations: 8,
    trained: 0,
    rejectedOverBudget: 2,
    front: [{ ...member('s1', 0.6, 0.1), accuracySource: 'supernet' }],
    hypervolume: 0.3,
    activity: 'scoring 32/256',
    hypervolumeHistory: [0.2, 0.3],
  };
  const input = (jobId: string): NasJobInput => ({
    jobId,
    deviceIds: ['dev'],
    latencyBudgetMs: 0.5,
    space: 'proxy-28',
    input: PROXY_28.input,
    classes: PROXY_28.classes,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 8, population: 4, maxTrainedCandidates: 32, wallClockSeconds: 60 },
    strategy: 'nsga2',
    seed: 1,
    evaluation: JOB_PRESETS.quick.evaluation,
  });
  let api: ApiTestContext;
  let storage: Storage;

  beforeAll(async () => {
    api = await startApiForTest(API_PORT_STUB_PROGRESS, { workflows: new FixedProgressWorkflows(progress) });
    storage = await openStorage(api.databaseUrl);
    await storage.jobs.create(input('done'));
    await storage.jobs.setStatus('done', 'completed', { result });
    await storage.models.save('done', 'b1', new Uint8Array([1]), 'initialised weights');
    await storage.jobs.create(input('running'));
  });
  afterAll(async () => {
    await storage?.close();
    await api?.close();
  });

  const get = (path: string) =>
    api
      .http()
      .get(path)
      .set(...auth(USER_KEY));

  it("passes a finished job's finalists, search front, baselines and supernet through view and front", async () => {
    const view = await get('/v1/jobs/done');
    expect(view.status).toBe(200);
    expect(view.body.result).toEqual(result);

    const pareto = await get('/v1/jobs/done/pareto');
    expect(pareto.status).toBe(200);
    expect(pareto.body).toMatchObject({
      final: true,
      evaluationMode: 'supernet',
      hypervolume: 0.42,
      supernet: result.supernet,
    });
    expect(pareto.body.front).toEqual([{ ...finalist, measuredLatencyByDevice: {}, modelUrl: null }]);
    expect(pareto.body.searchFront).toEqual([
      { ...result.searchFront?.[0], measuredLatencyByDevice: {}, modelUrl: null },
    ]);
    expect(pareto.body.baselines).toEqual([
      { ...baseline, measuredLatencyByDevice: {}, modelUrl: '/v1/jobs/done/architectures/b1/model.onnx' },
    ]);
  });

  it("passes a running job's activity and hypervolume history through; its mode comes from the input", async () => {
    const view = await get('/v1/jobs/running');
    expect(view.body.progress).toEqual(progress);
    const pareto = await get('/v1/jobs/running/pareto');
    expect(pareto.body).toMatchObject({
      final: false,
      evaluationMode: 'supernet',
      hypervolume: 0.3,
      searchFront: null,
      baselines: [],
      supernet: null,
      hypervolumeHistory: [0.2, 0.3],
    });
    expect(pareto.body.front.map((c: CandidateSummary) => c.accuracySource)).toEqual(['supernet']);
  });

  it('documents presets, evaluation and the new result fields in the OpenAPI document', async () => {
    const docs = await get('/docs-json');
    expect(docs.status).toBe(200);
    const schemas = docs.body.components.schemas;
    expect(schemas.CreateJobDto.properties.preset.enum).toEqual(['quick', 'standard', 'thorough']);
    expect(schemas.EvaluationDto.properties.mode.enum).toEqual(['supernet', 'standalone']);
    expect(schemas.FinalistsDto.properties.seeds.minimum).toBe(2);
    expect(Object.keys(schemas.ParetoResponse.properties)).toEqual(
      expect.arrayContaining(['evaluationMode', 'front', 'searchFront', 'baselines', 'supernet']),
    );
    expect(Object.keys(schemas.CandidateSummaryResponse.properties)).toEqual(
      expect.arrayContaining([
        'accuracySource',
        'supernetAccuracy',
        'accuracySd',
        'seedAccuracies',
        'tiedWith',
      ]),
    );
    expect(Object.keys(schemas.JobProgressResponse.properties)).toEqual(
      expect.arrayContaining(['activity', 'hypervolumeHistory']),
    );
  });
});
