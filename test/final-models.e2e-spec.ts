/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * Deployable models end to end: real Temporal dev server, real API over HTTP, real SQLite, the device agent
 * benchmarking with ONNX Runtime, the worker as its own process. A tiny supernet job completes, then one of
 * its architectures gets final training, INT8 quantization and a model card; both files are downloaded and
 * run in onnxruntime-node here. Synthetic data and tiny budgets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CandidateSummary, DistillationSpec, ModelCard, NasJobResult } from '@edgenas/contracts';
import { evaluateOnnx } from '@edgenas/quantizer';
import { loadDataset, splitToNchw } from '@edgenas/proxy-trainer/datasets';
import { PROXY_28 } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import {
  JobsStack,
  TestAgent,
  createTestAgent,
  medianPredictedLatency,
  startJobsStack,
  waitFor,
} from './support/jobs-stack';
import { childPids, processAlive } from './support/jobs-worker-process';

jest.setTimeout(600_000);

const PORTS = { api: [3340, 3359], temporal: [7340, 7344] } as const;
const SEED = 5;
const DATASET = { kind: 'synthetic', trainSize: 64, valSize: 32 } as const;
// The job's front is not verified here (no agent pass during the job); final models' files are, by the agent
// passes run while waiting for them, well within the final verification timeout.
const WORKER = {
  trainingConcurrency: 2,
  verificationTimeoutSeconds: 2,
  finalVerificationTimeoutSeconds: 300,
  finalCheckpointSeconds: 1,
};

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly error?: string | null;
  readonly result?: NasJobResult | null;
}

interface FinalModelView {
  readonly id: string;
  readonly request: { readonly distillation?: DistillationSpec };
  readonly status: string;
  readonly error: string | null;
  readonly progress: { phase: string; step: number; totalSteps: number } | null;
  readonly card: ModelCard | null;
  readonly files: { float: string | null; int8: string | null };
}

let stack: JobsStack;
let storage: Storage;
let agent: TestAgent;
let deviceId: string;
let job: JobView;

/** Waits for a final model to finish, the device agent running a pass each time (it measures the files). */
async function waitForFinalModel(jobId: string, id: string, timeoutMs: number): Promise<FinalModelView> {
  return waitFor(
    `final model ${id} to finish`,
    async () => {
      await agent.pass();
      const res = await stack.http<FinalModelView>('GET', `/v1/jobs/${jobId}/final-models/${id}`);
      return ['completed', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

async function requestFinalTraining(archId: string, body: Record<string, unknown>): Promise<FinalModelView> {
  const res = await stack.http<FinalModelView>(
    'POST',
    `/v1/jobs/${job.id}/architectures/${archId}/final-training`,
    body,
  );
  expect(res.status).toBe(202);
  return res.body;
}

beforeAll(async () => {
  stack = await startJobsStack(PORTS);
  agent = createTestAgent(stack, 'final-e2e-cpu', [PROXY_28]);
  const first = await agent.pass();
  expect(first.online).toBe(true);
  deviceId = first.deviceId as string;
  storage = await openStorage(stack.databaseUrl);
  const budgetMs = await medianPredictedLatency(stack, deviceId, PROXY_28, 99);
  await stack.startWorker(WORKER);
  const submitted = await stack.http<{ id: string }>('POST', '/v1/jobs', {
    deviceIds: [deviceId],
    latencyBudgetMs: budgetMs,
    space: PROXY_28.name,
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    proxy: { dataset: DATASET, batchSize: 16, resolution: 28 },
    budget: { generations: 1, population: 3, maxTrainedCandidates: 3, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed: SEED,
    evaluation: {
      mode: 'supernet',
      supernet: { steps: 8, batchSize: 16, sampling: 'uniform', recalibrationBatches: 2, scoreImages: 32 },
      finalists: { count: 2, seeds: 2, steps: 3, batchSize: 16 },
      baselines: false,
    },
  });
  expect(submitted.status).toBe(202);
  job = await waitFor(
    'the job to finish',
    async () => {
      const res = await stack.http<JobView>('GET', `/v1/jobs/${submitted.body.id}`);
      return ['completed', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
    },
    400_000,
  );
  expect(job.error ?? null).toBeNull();
  expect(job.status).toBe('completed');
});

afterAll(async () => {
  await storage?.close();
  agent?.close();
  if (stack) {
    if (process.env.EDGENAS_SHOW_WORKER_LOG) console.log(stack.worker?.log());
    await stack.close();
  }
});

test('a front member is trained, quantized and evaluated; both files run in onnxruntime-node and the card records it', async () => {
  const front = job.result?.front as CandidateSummary[];
  const student = front[0];
  // Distilled from the default teacher, the job's most accurate finalist, which is trained first.
  const created = await requestFinalTraining(student.architectureId, {
    steps: 40,
    batchSize: 16,
    calibrationImages: 32,
    augmentation: { crop: true, flip: true },
    distillation: { temperature: 3, weight: 0.5 },
  });
  const teacher = created.request.distillation as DistillationSpec;
  expect(teacher.teacherSource).toBe('best-finalist');
  const done = await waitForFinalModel(job.id, created.id, 300_000);
  expect(done.error).toBeNull();
  expect(done.status).toBe('completed');
  expect(done.progress).toMatchObject({ phase: 'completed', step: 40, totalSteps: 40 });
  const card = done.card as ModelCard;

  // The card: what was trained, where, how well in ORT, and what INT8 did.
  expect(card).toMatchObject({
    finalModelId: created.id,
    jobId: job.id,
    architectureId: student.architectureId,
    architecture: student.architecture,
    dataset: { kind: 'synthetic', trainImages: 64, valImages: 32, classes: 4 },
    geometry: {
      trainedAt: 'deployment',
      trained: 'proxy-28@28x28x1-c4',
      input: { height: 28, width: 28, channels: 1 },
    },
    training: {
      steps: 40,
      batchSize: 16,
      seed: SEED,
      augmentation: { crop: true, flip: true },
      resumedFromStep: 0,
    },
    distillation: {
      teacherArchitectureId: teacher.teacherArchitectureId,
      teacherArchitecture: teacher.teacherArchitecture,
      teacherSource: 'best-finalist',
      teacherTrained: 'trained with the same budget',
      temperature: 3,
      weight: 0.5,
    },
  });
  expect(card.distillation?.loss).toMatch(/T²·KL/);
  expect(card.distillation?.teacherAccuracy).toBeGreaterThanOrEqual(0);
  expect(card.distillation?.teacherAccuracy).toBeLessThanOrEqual(1);
  expect(card.macs).toBeGreaterThan(0);
  expect(card.params).toBeGreaterThan(0);
  expect(card.accuracy.evaluatedImages).toBe(32);
  expect(card.quantization?.calibrationImages).toBe(24);
  expect(card.quantization?.heldOutImages).toBe(8);
  expect(['minmax', 'percentile']).toContain(card.quantization?.method);
  expect(Object.keys(card.predictedLatencyMs)).toEqual([deviceId]);
  expect(card.predictedLatencyMs[deviceId]).toBeCloseTo(student.predictedLatencyByDevice[deviceId], 6);
  // The job deploys at the proxy geometry, with 10 classes where the synthetic set has 4; a small validation
  // set: said, never silent.
  expect(card.warnings).toContain(
    'the dataset has 4 classes, the deployment geometry 10: the files output 4 scores',
  );
  expect(card.warnings.some((w) => w.includes('32 validation images'))).toBe(true);
  const drop = card.accuracy.int8DropPoints as number;
  expect(drop).toBeCloseTo(100 * (card.accuracy.float - (card.accuracy.int8 as number)), 9);
  expect(card.warnings.some((w) => w.startsWith('INT8 top-1 is'))).toBe(drop > 2);

  // The device agent measured both files as they are, at their geometry, beside the predicted latency; the card
  // holds what the measurement rows answering the verification requests say.
  const measured = card.measuredLatencyMs;
  expect(measured).toMatchObject({ geometry: 'proxy-28@28x28x1-c4', notMeasured: [] });
  expect(Object.keys(measured?.float ?? {})).toEqual([deviceId]);
  expect(Object.keys(measured?.int8 ?? {})).toEqual([deviceId]);
  expect(measured?.float[deviceId]).toBeGreaterThan(0);
  expect(measured?.int8?.[deviceId]).toBeGreaterThan(0);
  const requests = (await storage.verifications.listForJob(job.id)).filter(
    (v) => v.modelFile?.finalModelId === created.id,
  );
  expect(requests.map((v) => [v.deviceId, v.modelFile?.file, v.status, v.space]).sort()).toEqual([
    [deviceId, 'float', 'completed', 'proxy-28@28x28x1-c4'],
    [deviceId, 'int8', 'completed', 'proxy-28@28x28x1-c4'],
  ]);
  for (const v of requests) {
    const row = await storage.measurements.getArchitectureMeasurement(v.measurementId as string);
    expect(row).toMatchObject({ deviceId, verificationId: v.id, modelFile: v.modelFile?.file });
    const file = v.modelFile?.file as 'float' | 'int8';
    expect(row?.estimateMs).toBe(file === 'float' ? measured?.float[deviceId] : measured?.int8?.[deviceId]);
  }

  // Both downloads are what the card describes, and ORT reproduces the card's accuracies on the same split.
  const float = await stack.http('GET', done.files.float as string);
  const int8 = await stack.http('GET', done.files.int8 as string);
  expect(float.status).toBe(200);
  expect(int8.status).toBe(200);
  expect(float.bytes.length).toBe(card.files.float.bytes);
  expect(int8.bytes.length).toBe(card.files.int8?.bytes);
  expect(int8.bytes.length).toBeLessThan(float.bytes.length);
  const data = loadDataset(DATASET, { resolution: 28, seed: SEED });
  const val = splitToNchw(data.val, data);
  expect((await evaluateOnnx(float.bytes, val, data.val.labels)).top1).toBe(card.accuracy.float);
  expect((await evaluateOnnx(int8.bytes, val, data.val.labels)).top1).toBe(card.accuracy.int8);
  for (const bytes of [float.bytes, int8.bytes]) {
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      [session.inputNames[0]]: new ort.Tensor('float32', val.subarray(0, 2 * 28 * 28), [2, 1, 28, 28]),
    });
    expect(out[session.outputNames[0]].dims).toEqual([2, 4]);
    await session.release();
  }
  // The worker's working files are gone once the model is stored.
  expect(fs.existsSync(path.join(stack.dataDir, 'final-models', created.id))).toBe(false);
});

test('on the real stack too: 404 for an architecture outside the job, 400 for more calibration images than training images', async () => {
  const unknown = await stack.http<{ errors: { field: string }[] }>(
    'POST',
    `/v1/jobs/${job.id}/architectures/not-in-this-job/final-training`,
    { batchSize: 16, calibrationImages: 32 },
  );
  expect(unknown.status).toBe(404);
  expect(unknown.body.errors.map((e) => e.field)).toEqual(['archId']);
  const front = job.result?.front as CandidateSummary[];
  const tooMany = await stack.http<{ errors: { field: string; reason: string }[] }>(
    'POST',
    `/v1/jobs/${job.id}/architectures/${front[0].architectureId}/final-training`,
    { batchSize: 16, calibrationImages: 65 },
  );
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.errors).toEqual([
    { field: 'calibrationImages', reason: '65 calibration images, but the training set has 64' },
  ]);
});

test('killing the worker (kill -9) during distilled final training resumes from the last checkpoint', async () => {
  const front = job.result?.front as CandidateSummary[];
  const student = front[front.length - 1];
  // The first test's final model teaches (its stored float model: no teacher training). Float only: nothing to
  // calibrate, the INT8 file is absent and said so.
  const created = await requestFinalTraining(student.architectureId, {
    steps: 300,
    batchSize: 16,
    precisions: ['float32'],
    distillation: { teacher: front[0].architectureId },
  });
  const checkpoint = path.join(stack.dataDir, 'final-models', created.id, 'model.ckpt');
  await waitFor(
    'a final-training checkpoint',
    async () => (fs.existsSync(checkpoint) ? true : undefined),
    180_000,
    200,
  );
  const running = await stack.http<FinalModelView>('GET', `/v1/jobs/${job.id}/final-models/${created.id}`);
  expect(running.body).toMatchObject({ status: 'running', progress: { phase: 'training', totalSteps: 300 } });
  const orphans = childPids(stack.worker!.pid);
  await stack.worker!.kill9();
  await waitFor(
    'orphaned trainings to exit',
    async () => (orphans.some(processAlive) ? undefined : true),
    15_000,
  );
  await stack.startWorker(WORKER);
  const done = await waitForFinalModel(job.id, created.id, 400_000);
  expect(done.error).toBeNull();
  expect(done.status).toBe('completed');
  const card = done.card as ModelCard;
  expect(card.training.steps).toBe(300);
  // The retried training did not restart at step 0.
  expect(card.training.resumedFromStep).toBeGreaterThan(0);
  expect(card.training.resumedFromStep).toBeLessThan(300);
  expect(card.distillation).toMatchObject({
    teacherArchitectureId: front[0].architectureId,
    teacherSource: 'request',
    teacherTrained: 'stored final model',
    temperature: 4,
    weight: 0.5,
  });
  expect(card.files.int8).toBeNull();
  expect(card.measuredLatencyMs?.int8).toBeNull();
  expect(card.measuredLatencyMs?.float[deviceId]).toBeGreaterThan(0);
  expect(card.accuracy.int8).toBeNull();
  expect(card.quantization).toBeNull();
  expect(done.files.int8).toBeNull();
  const int8 = await stack.http('GET', `/v1/jobs/${job.id}/final-models/${created.id}/model.int8.onnx`);
  expect(int8.status).toBe(404);
  const float = await stack.http('GET', done.files.float as string);
  expect(float.bytes.length).toBe(card.files.float.bytes);
});

test('a final training that moves to another machine (its local files gone) resumes from the checkpoint stored in the database', async () => {
  const front = job.result?.front as CandidateSummary[];
  const created = await requestFinalTraining(front[0].architectureId, {
    steps: 300,
    batchSize: 16,
    seed: 11,
    precisions: ['float32'],
  });
  const storage = await openStorage(stack.databaseUrl);
  try {
    const key = `final-model/${created.id}`;
    await waitFor(
      'a final-training checkpoint stored in the database',
      async () => ((await storage.trainingCheckpoints.get(key)) ? true : undefined),
      180_000,
      200,
    );
    const orphans = childPids(stack.worker!.pid);
    await stack.worker!.kill9();
    await waitFor(
      'orphaned trainings to exit',
      async () => (orphans.some(processAlive) ? undefined : true),
      15_000,
    );
    // What another machine would lack: this model's working files (checkpoint included).
    fs.rmSync(path.join(stack.dataDir, 'final-models', created.id), { recursive: true, force: true });
    await stack.startWorker(WORKER);
    const done = await waitForFinalModel(job.id, created.id, 400_000);
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    const card = done.card as ModelCard;
    expect(card.training.resumedFromStep).toBeGreaterThan(0);
    expect(card.training.resumedFromStep).toBeLessThan(300);
    // A finished training leaves no checkpoint behind in the database.
    expect(await storage.trainingCheckpoints.get(key)).toBeUndefined();
  } finally {
    await storage.close();
  }
});
