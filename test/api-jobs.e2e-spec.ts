import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NAS_JOB_WORKFLOW, NasJobInput, TASK_QUEUES } from '@edgenas/contracts';
import { buildLut, fastestAchievableLatency, spaceSignatures } from '@edgenas/latency-predictor';
import { BlockMeasurement } from '@edgenas/latency-predictor/measurement';
import { PROXY_28 } from '@edgenas/search-space';
import { openStorage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';

const API_PORT = 3110;
const API_PORT_NO_TEMPORAL = 3111;
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
