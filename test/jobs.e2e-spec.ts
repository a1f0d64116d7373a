/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * NAS jobs end to end: real Temporal dev server, real API over HTTP, real SQLite, the real device agent
 * benchmarking with ONNX Runtime, the worker as its own process with real proxy training, and the exported
 * model run in onnxruntime-node. Tiny shapes and budgets so the whole suite takes a few minutes.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { Client, Connection } from '@temporalio/client';
import {
  CandidateSummary,
  NAS_JOB_WORKFLOW,
  NasJobInput,
  NasJobProgress,
  PROGRESS_QUERY,
  TASK_QUEUES,
} from '@edgenas/contracts';
import { PROXY_28 } from '@edgenas/search-space';
import { dominates } from '@edgenas/search';
import { openStorage, Storage } from '@edgenas/storage';
import {
  JobsStack,
  TestAgent,
  createTestAgent,
  medianPredictedLatency,
  startJobsStack,
  waitFor,
  whileAgentRuns,
  waitForExit,
} from './support/jobs-stack';
import { childPids, workerLogLines } from './support/jobs-worker-process';

jest.setTimeout(300_000);

/** This suite's port ranges (the first free port of each is used). */
const PORTS = { api: [3300, 3319], temporal: [7330, 7334] } as const;
/** Deployment geometry: the proxy-28 space at its own (tiny) geometry, so the LUT builds in seconds. */
const SPACE = PROXY_28.name;
const INPUT = { height: 28, width: 28, channels: 1 };
const CLASSES = 10;

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly error?: string | null;
  readonly progress?: NasJobProgress | null;
}

let stack: JobsStack;
let agent: TestAgent;
let storage: Storage;
let deviceId: string;
let budgetMs: number;
/** Jobs whose lines the worker's log must show (see the last test). */
let completedJobId: string | undefined;
let cancelledJobId: string | undefined;

function jobBody(overrides: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    deviceIds: [deviceId],
    latencyBudgetMs: budgetMs,
    space: SPACE,
    input: INPUT,
    classes: CLASSES,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      steps: 4,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 2, population: 3, maxTrainedCandidates: 6, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed: 7,
    // Every candidate trained on its own (this suite tests per-candidate training), no baselines.
    evaluation: { mode: 'standalone', baselines: false },
    ...overrides,
  };
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await stack.http<{ id: string }>('POST', '/v1/jobs', body);
  expect(res.status).toBe(202);
  return res.body.id;
}

async function job(id: string): Promise<JobView> {
  const res = await stack.http<JobView>('GET', `/v1/jobs/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function waitForStatus(id: string, statuses: string[], timeoutMs: number): Promise<JobView> {
  return waitFor(
    `job ${id} to reach ${statuses.join('/')}`,
    async () => {
      const j = await job(id);
      return statuses.includes(j.status) ? j : undefined;
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  stack = await startJobsStack(PORTS);
  agent = createTestAgent(stack, 'jobs-e2e-cpu', [PROXY_28]);
  const first = await agent.pass();
  expect(first.online).toBe(true);
  expect(first.blocksMeasured).toBeGreaterThan(0);
  deviceId = first.deviceId as string;
  storage = await openStorage(stack.databaseUrl);

  // A budget that splits the space.
  budgetMs = await medianPredictedLatency(stack, deviceId, PROXY_28, 99);
  await stack.startWorker({ trainingConcurrency: 2, verificationTimeoutSeconds: 20 });
});

afterAll(async () => {
  await storage?.close();
  agent?.close();
  if (stack) {
    if (process.env.EDGENAS_SHOW_WORKER_LOG) console.log(stack.worker?.log());
    await stack.close();
  }
});

test('a small job over HTTP returns a non-dominated front within budget; the ONNX model runs in onnxruntime-node', async () => {
  const id = await submit(jobBody());
  completedJobId = id;
  const progressSeen: NasJobProgress[] = [];
  // The device agent keeps running: it answers the job's verification requests with end-to-end measurements.
  const done = await whileAgentRuns(agent, () =>
    waitFor(
      `job ${id} to finish`,
      async () => {
        const j = await job(id);
        if (j.progress) progressSeen.push(j.progress);
        return ['completed', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      240_000,
    ),
  );
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe('completed');
  expect(progressSeen.some((p) => p.generation >= 1 && p.trained > 0)).toBe(true);

  const pareto = await stack.http<{ front: CandidateSummary[] }>('GET', `/v1/jobs/${id}/pareto`);
  expect(pareto.status).toBe(200);
  const front = pareto.body.front;
  expect(front.length).toBeGreaterThan(0);
  for (const a of front) {
    expect(a.predictedLatencyMs).toBeLessThanOrEqual(budgetMs);
    expect(a.accuracy).toBeGreaterThanOrEqual(0);
    for (const b of front) {
      if (a === b) continue;
      const pa = { accuracy: a.accuracy, latencyMs: a.predictedLatencyMs };
      const pb = { accuracy: b.accuracy, latencyMs: b.predictedLatencyMs };
      expect(dominates(pa, pb)).toBe(false);
    }
  }
  // The agent measured the front end to end; measured latency sits beside the prediction.
  expect(front.some((a) => a.measuredLatencyByDevice?.[deviceId] !== undefined)).toBe(true);

  // Over-budget proposals are recorded but never trained; trained ones stay within the cap.
  const candidates = await storage.candidates.list(id);
  const trained = candidates.filter((c) => c.status === 'trained');
  expect(trained.length).toBeGreaterThan(0);
  expect(trained.length).toBeLessThanOrEqual(6);
  for (const c of candidates.filter((c) => c.status === 'over-budget')) {
    expect(c.accuracy).toBeNull();
    expect(c.predictedLatencyMs as number).toBeGreaterThan(budgetMs);
  }

  const member = front[0];
  const model = await stack.http('GET', `/v1/jobs/${id}/architectures/${member.architectureId}/model.onnx`);
  expect(model.status).toBe(200);
  const session = await ort.InferenceSession.create(model.bytes);
  const input = new ort.Tensor('float32', new Float32Array(INPUT.height * INPUT.width).fill(0.5), [
    1,
    INPUT.channels,
    INPUT.height,
    INPUT.width,
  ]);
  const out = await session.run({ [session.inputNames[0]]: input });
  const logits = out[session.outputNames[0]];
  expect(logits.dims).toEqual([1, CLASSES]);
  expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);
  await session.release();
});

test('a LUT that cannot price the space fails the job fast, naming the missing signatures', async () => {
  // A device without measurements (registered over HTTP); the workflow is started directly so the API's own
  // up-front checks do not get there first.
  const reg = await stack.http<{ id: string }>('POST', '/v1/devices', {
    name: 'unmeasured',
    profile: (await storage.devices.get(deviceId))?.profile,
  });
  expect(reg.status).toBe(201);
  const input = {
    ...(jobBody({ deviceIds: [reg.body.id] }) as unknown as NasJobInput),
    jobId: 'lut-gap-job',
  };
  await storage.jobs.create(input);
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection });
    const handle = await client.workflow.start(NAS_JOB_WORKFLOW, {
      taskQueue: TASK_QUEUES.light,
      workflowId: input.jobId,
      args: [input],
    });
    await expect(handle.result()).rejects.toThrow();
  } finally {
    await connection.close();
  }
  const failed = await storage.jobs.get(input.jobId);
  expect(failed?.status).toBe('failed');
  expect(failed?.error).toMatch(/cannot price space proxy-28/);
  expect(failed?.error).toMatch(/stem_k3:s2:c1-8:28x28:relu/);
  expect(await storage.candidates.count(input.jobId)).toBe(0);
});

test('a long search continues as new each generation and carries its state across runs', async () => {
  const input = {
    ...(jobBody({
      budget: { generations: 2, population: 2, maxTrainedCandidates: 4, wallClockSeconds: 600 },
      seed: 5,
    }) as unknown as NasJobInput),
    jobId: 'continue-as-new-job',
  };
  await storage.jobs.create(input);
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection });
    const handle = await client.workflow.start(NAS_JOB_WORKFLOW, {
      taskQueue: TASK_QUEUES.light,
      workflowId: input.jobId,
      args: [input, { generationsPerRun: 1 }],
    });
    const result = await handle.result();
    const description = await client.workflow.getHandle(input.jobId).describe();
    // Two generations, one per run: the final run is not the first.
    expect(description.runId).not.toBe(handle.firstExecutionRunId);
    const trained = await storage.candidates.list(input.jobId, { status: 'trained' });
    expect(result.trained).toBe(trained.length);
    expect(result.trained).toBeGreaterThan(0);
    // Nothing proposed twice across runs: the search state (seen ids) travelled with continue-as-new.
    const all = await storage.candidates.list(input.jobId);
    expect(new Set(all.map((c) => c.architectureId)).size).toBe(all.length);
    expect(new Set(all.map((c) => c.generation))).toEqual(new Set([0, 1]));
    expect((await storage.jobs.get(input.jobId))?.status).toBe('completed');
  } finally {
    await connection.close();
  }
});

test('cancelling mid-job stops the trainings and records the job as cancelled', async () => {
  const worker = stack.worker!;
  const id = await submit(
    jobBody({
      proxy: {
        dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
        epochs: 1,
        steps: 400,
        batchSize: 16,
        resolution: 28,
      },
      budget: { generations: 3, population: 4, maxTrainedCandidates: 12, wallClockSeconds: 600 },
      seed: 11,
    }),
  );
  cancelledJobId = id;
  // Wait until trainings run (the worker has training child processes).
  const trainers = await waitFor(
    'training child processes',
    async () => {
      const pids = childPids(worker.pid);
      return pids.length > 0 ? pids : undefined;
    },
    60_000,
  );
  const cancel = await stack.http('POST', `/v1/jobs/${id}/cancel`);
  expect([200, 202]).toContain(cancel.status);
  await waitForStatus(id, ['cancelled'], 30_000);
  await waitForExit('training processes to exit', trainers);
  const recorded = await storage.candidates.count(id, 'trained');
  await new Promise((r) => setTimeout(r, 3000));
  expect(await storage.candidates.count(id, 'trained')).toBe(recorded);
  expect(childPids(worker.pid)).toEqual([]);
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const description = await new Client({ connection }).workflow.getHandle(id).describe();
    expect(description.status.name).toBe('CANCELLED');
  } finally {
    await connection.close();
  }
});

test('killing the worker (kill -9) mid-job loses no candidate and trains none twice', async () => {
  const id = await submit(
    jobBody({
      proxy: {
        dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
        epochs: 1,
        steps: 8,
        batchSize: 16,
        resolution: 28,
      },
      budget: { generations: 2, population: 3, maxTrainedCandidates: 6, wallClockSeconds: 600 },
      seed: 23,
    }),
  );
  // Kill once the first candidate is recorded and more are in training.
  await waitFor(
    'a trained candidate',
    async () => ((await storage.candidates.count(id, 'trained')) > 0 ? true : undefined),
    120_000,
    200,
  );
  const orphans = childPids(stack.worker!.pid);
  await stack.worker!.kill9();
  // Training processes of the dead worker notice it and exit instead of training on.
  await waitForExit('orphaned trainings to exit', orphans);
  await stack.startWorker({ trainingConcurrency: 2, verificationTimeoutSeconds: 2 });

  const done = await waitForStatus(id, ['completed', 'failed', 'cancelled'], 200_000);
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe('completed');

  const candidates = await storage.candidates.list(id);
  const trained = candidates.filter((c) => c.status === 'trained');
  const ids = candidates.map((c) => c.architectureId);
  expect(new Set(ids).size).toBe(ids.length);
  // Every candidate proposed within budget was trained (none lost) …
  expect(candidates.filter((c) => c.status === 'proposed')).toEqual([]);
  // … and each one exactly once.
  for (const c of trained) {
    expect((c.training as { trainings?: number } | null)?.trainings).toBe(1);
  }
  const progress = await queryProgress(id);
  expect(progress.trained).toBe(trained.length);
});

test("the worker's log is JSON lines: its start, each activity's start and end with workflow, activity and job ids, and Temporal's own lines", () => {
  const text = readFileSync(stack.workerLog, 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
  const log = workerLogLines(text);
  expect(log).toHaveLength(lines.length);
  for (const l of log) {
    expect(l).toMatchObject({
      service: 'edgenas-worker',
      level: expect.any(Number),
      time: expect.any(Number),
    });
    expect(typeof l.msg).toBe('string');
  }
  // one start per worker process (the kill -9 test started a second one)
  expect(log.filter((l) => l.msg === 'worker started')).toEqual([
    expect.objectContaining({ level: 30, queues: ['light', 'training'], trainingConcurrency: 2 }),
    expect.objectContaining({ level: 30 }),
  ]);
  // Temporal's runtime logger writes into the same stream
  expect(log).toContainEqual(
    expect.objectContaining({ msg: 'Workflow bundle created', sdkComponent: 'worker' }),
  );

  const ofJob = (msg: string, jobId: string | undefined) =>
    log.filter((l) => l.msg === msg && l.jobId === jobId && jobId !== undefined);
  const trained = ofJob('activity completed', completedJobId).filter((l) => l.activityType === 'proxyTrain');
  expect(trained.length).toBeGreaterThan(0);
  for (const l of trained) {
    expect(l).toMatchObject({
      level: 30,
      workflowId: completedJobId,
      activityId: expect.any(String),
      attempt: 1,
      durationMs: expect.any(Number),
    });
    expect(ofJob('activity started', completedJobId)).toContainEqual(
      expect.objectContaining({ activityType: 'proxyTrain', activityId: l.activityId }),
    );
  }
  expect(ofJob('activity cancelled', cancelledJobId).length).toBeGreaterThan(0);
  // A failure: the LUT check of the job the API never saw (its request names no job; its workflow id does)
  expect(log).toContainEqual(
    expect.objectContaining({
      level: 40,
      msg: 'activity failed',
      workflowId: 'lut-gap-job',
      activityType: 'checkLutCoverage',
      activityId: expect.any(String),
      error: expect.stringMatching(/cannot price space proxy-28/),
    }),
  );
  expect(log).toContainEqual(
    expect.objectContaining({
      level: 40,
      msg: 'Activity failed',
      workflowId: 'lut-gap-job',
      error: expect.objectContaining({ stack: expect.stringMatching(/cannot price space proxy-28/) }),
    }),
  );
});

async function queryProgress(id: string): Promise<NasJobProgress> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    return await new Client({ connection }).workflow.getHandle(id).query<NasJobProgress>(PROGRESS_QUERY);
  } finally {
    await connection.close();
  }
}
