/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * Supernet-mode jobs end to end: real Temporal dev server, real API over HTTP, real SQLite, the device agent
 * benchmarking with ONNX Runtime, the worker as its own process training a real supernet, scoring subnets and
 * retraining finalists and baselines. Synthetic data and tiny budgets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BaselineSummary,
  CandidateSummary,
  NasJobInput,
  NasJobResult,
  SupernetArtifactSummary,
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
  waitForExit,
} from './support/jobs-stack';
import { childPids } from './support/jobs-worker-process';

// Limits are generous: they only matter when something is stuck, and a loaded machine is slow.
jest.setTimeout(1_200_000);

const PORTS = { api: [3320, 3339], temporal: [7335, 7339] } as const;
const SPACE = PROXY_28.name;
const FINALISTS = 2;
const SEEDS = 2;
const BASELINES = ['mobilenetv2-like', 'shufflenetv2-like', 'fbnet-b', 'smallest'];

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly error?: string | null;
  readonly input: NasJobInput;
  readonly result?: NasJobResult | null;
}

interface ParetoView {
  readonly evaluationMode: string;
  readonly front: CandidateSummary[];
  readonly searchFront: CandidateSummary[] | null;
  readonly baselines: BaselineSummary[];
  readonly supernet: SupernetArtifactSummary | null;
}

let stack: JobsStack;
let agent: TestAgent;
let storage: Storage;
let deviceId: string;
let budgetMs: number;

function jobBody(supernetSteps: number, seed: number, baselines = true): Record<string, unknown> {
  return {
    deviceIds: [deviceId],
    latencyBudgetMs: budgetMs,
    space: SPACE,
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    proxy: { dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 }, batchSize: 16, resolution: 28 },
    budget: { generations: 2, population: 4, maxTrainedCandidates: 8, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed,
    evaluation: {
      mode: 'supernet',
      supernet: {
        steps: supernetSteps,
        batchSize: 16,
        sampling: 'uniform',
        recalibrationBatches: 2,
        scoreImages: 32,
      },
      finalists: { count: FINALISTS, seeds: SEEDS, steps: 3, batchSize: 16 },
      baselines,
    },
  };
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await stack.http<{ id: string }>('POST', '/v1/jobs', body);
  expect(res.status).toBe(202);
  return res.body.id;
}

async function waitForStatus(id: string, statuses: string[], timeoutMs: number): Promise<JobView> {
  return waitFor(
    `job ${id} to reach ${statuses.join('/')}`,
    async () => {
      const res = await stack.http<JobView>('GET', `/v1/jobs/${id}`);
      return statuses.includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

function supernetFiles(): string[] {
  const dir = path.join(stack.dataDir, 'supernets');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

beforeAll(async () => {
  stack = await startJobsStack(PORTS);
  agent = createTestAgent(stack, 'supernet-e2e-cpu', [PROXY_28]);
  const first = await agent.pass();
  expect(first.online).toBe(true);
  deviceId = first.deviceId as string;
  storage = await openStorage(stack.databaseUrl);
  // A budget that splits the space.
  budgetMs = await medianPredictedLatency(stack, deviceId, PROXY_28, 98);
  await stack.startWorker({
    trainingConcurrency: 2,
    verificationTimeoutSeconds: 2,
    supernetCheckpointSeconds: 1,
  });
});

afterAll(async () => {
  await storage?.close();
  agent?.close();
  if (stack) {
    if (process.env.EDGENAS_SHOW_WORKER_LOG) console.log(stack.worker?.log());
    await stack.close();
  }
});

test('a supernet job scores subnets, retrains its finalists over seeds and returns baselines beside the front', async () => {
  const id = await submit(jobBody(12, 3));
  const done = await waitForStatus(id, ['completed', 'failed', 'cancelled'], 600_000);
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe('completed');

  const pareto = await stack.http<ParetoView>('GET', `/v1/jobs/${id}/pareto`);
  expect(pareto.status).toBe(200);
  const { front, searchFront, baselines, supernet } = pareto.body;
  expect(pareto.body.evaluationMode).toBe('supernet');
  expect(supernet?.steps).toBe(12);
  expect(supernet?.reused).toBe(false);
  expect(supernet?.sha256).toMatch(/^[0-9a-f]{64}$/);

  // The search scored subnets with inherited weights; the front is made of retrained finalists.
  const scored = await storage.candidates.list(id, { status: 'scored' });
  expect(scored.length).toBeGreaterThan(0);
  expect(searchFront?.length).toBeGreaterThan(0);
  expect(searchFront?.every((c) => c.accuracySource === 'supernet')).toBe(true);
  expect(front.length).toBeGreaterThan(0);
  // Members are finalists from the search's front, or baselines within the budget that no finalist dominates.
  const finalistMembers = front.filter((m) => m.baseline === undefined);
  expect(finalistMembers.length).toBeLessThanOrEqual(FINALISTS);
  const searchIds = new Set(searchFront?.map((c) => c.architectureId));
  for (const m of front) {
    if (m.baseline === undefined) {
      expect(searchIds.has(m.architectureId)).toBe(true);
      expect(m.supernetAccuracy).toBeDefined();
    } else {
      const b = baselines.find((x) => x.baseline === m.baseline);
      expect(b?.architectureId).toBe(m.architectureId);
      expect(b?.coveredByFront).toBe(false);
    }
    expect(m.accuracySource).toBe('retrained');
    expect(m.seedAccuracies).toHaveLength(SEEDS);
    const mean = (m.seedAccuracies as number[]).reduce((a, b) => a + b, 0) / SEEDS;
    expect(m.accuracy).toBeCloseTo(mean, 10);
    expect(m.accuracySd).toBeGreaterThanOrEqual(0);
    expect(m.predictedLatencyMs).toBeLessThanOrEqual(budgetMs);
    for (const o of front) {
      if (o === m) continue;
      expect(
        dominates(
          { accuracy: o.accuracy, latencyMs: o.predictedLatencyMs },
          { accuracy: m.accuracy, latencyMs: m.predictedLatencyMs },
        ),
      ).toBe(false);
    }
  }

  // Every baseline was trained with the finalists' seeds and priced from the same LUT.
  expect(baselines.map((b) => b.baseline).sort()).toEqual([...BASELINES].sort());
  for (const b of baselines) {
    expect(b.seedAccuracies).toHaveLength(SEEDS);
    expect(b.predictedLatencyMs).toBeGreaterThan(0);
    expect(typeof b.coveredByFront).toBe('boolean');
    // one within the budget that no front member dominates is on the front itself
    const dominated = front.some((m) =>
      dominates(
        { accuracy: m.accuracy, latencyMs: m.predictedLatencyMs },
        { accuracy: b.accuracy, latencyMs: b.predictedLatencyMs },
      ),
    );
    if (b.predictedLatencyMs <= budgetMs && !dominated) {
      expect(front.some((m) => m.architectureId === b.architectureId)).toBe(true);
    }
  }
  const trainings = await storage.standaloneTrainings.listForJob(id);
  expect(trainings.filter((t) => t.purpose === 'baseline')).toHaveLength(BASELINES.length * SEEDS);
  expect(trainings.filter((t) => t.purpose === 'finalist').length).toBeGreaterThanOrEqual(
    front.length * SEEDS,
  );

  // A later job with the same supernet key reuses the artifact instead of training it again, though it
  // searches with another seed: the supernet's seed is its own (default 0), not the job's.
  const smallJob = (body: Record<string, unknown>) => ({
    ...body,
    budget: { generations: 1, population: 3, maxTrainedCandidates: 3, wallClockSeconds: 600 },
  });
  const again = await submit(smallJob(jobBody(12, 5, false)));
  const second = await waitForStatus(again, ['completed', 'failed', 'cancelled'], 600_000);
  expect(second.error ?? null).toBeNull();
  expect(second.input.seed).toBe(5);
  const secondPareto = await stack.http<ParetoView>('GET', `/v1/jobs/${again}/pareto`);
  expect(secondPareto.body.supernet?.reused).toBe(true);
  expect(secondPareto.body.supernet?.sha256).toBe(supernet?.sha256);

  // A job that names another supernet seed gets an independent supernet.
  const own = jobBody(12, 5, false) as { evaluation: { supernet: Record<string, unknown> } };
  const independent = await submit(
    smallJob({
      ...own,
      evaluation: { ...own.evaluation, supernet: { ...own.evaluation.supernet, seed: 9 } },
    }),
  );
  const third = await waitForStatus(independent, ['completed', 'failed', 'cancelled'], 600_000);
  expect(third.error ?? null).toBeNull();
  expect(third.result?.supernet?.reused).toBe(false);
  expect(third.result?.supernet?.key).not.toBe(supernet?.key);
  expect(third.result?.supernet?.sha256).not.toBe(supernet?.sha256);
});

test('a damaged local copy is restored from the database; a corrupt stored supernet is trained again, never used', async () => {
  const tinyJob = () =>
    submit({
      ...jobBody(6, 41, false),
      budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 600 },
    });
  const first = await waitForStatus(await tinyJob(), ['completed', 'failed'], 600_000);
  expect(first.status).toBe('completed');
  const key = first.result?.supernet?.key as string;
  const sha256 = first.result?.supernet?.sha256;
  const file = path.join(stack.dataDir, 'supernets', `${key}.supernet`);
  const corrupt = () => {
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    fs.writeFileSync(file, bytes);
  };

  // The worker's file is damaged, the database's copy is intact: that copy is used.
  corrupt();
  const restored = await waitForStatus(await tinyJob(), ['completed', 'failed'], 600_000);
  expect(restored.error ?? null).toBeNull();
  expect(restored.result?.supernet).toMatchObject({ key, reused: true, sha256 });

  // Both copies damaged: trained again.
  corrupt();
  await storage.handle.db
    .updateTable('supernet_files')
    .set({ bytes: Buffer.from('not a supernet') })
    .where('key', '=', key)
    .execute();
  const second = await waitForStatus(await tinyJob(), ['completed', 'failed'], 600_000);
  expect(second.error ?? null).toBeNull();
  expect(second.result?.supernet?.key).toBe(key);
  expect(second.result?.supernet?.reused).toBe(false);
  // Seeded training rebuilds the same bytes the corrupt file once had.
  expect(second.result?.supernet?.sha256).toBe(sha256);
  expect((await storage.supernets.head(key, 'artifact'))?.sha256).toBe(sha256);
});

test('a worker without the supernet on its disk (another machine) reuses and scores with the stored one', async () => {
  const body = {
    ...jobBody(8, 43, false),
    budget: { generations: 1, population: 3, maxTrainedCandidates: 3, wallClockSeconds: 600 },
  };
  const first = await waitForStatus(await submit(body), ['completed', 'failed'], 600_000);
  expect(first.status).toBe('completed');
  fs.rmSync(path.join(stack.dataDir, 'supernets'), { recursive: true, force: true });
  const second = await waitForStatus(await submit(body), ['completed', 'failed'], 600_000);
  expect(second.error ?? null).toBeNull();
  expect(second.result?.supernet).toMatchObject({ reused: true, sha256: first.result?.supernet?.sha256 });
  expect(second.result?.scored).toBeGreaterThan(0);
});

test('two jobs with the same supernet key at once: one trains it, the other follows its checkpoints and shares it', async () => {
  const body = {
    ...jobBody(400, 47, false),
    budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 600 },
  };
  const storedCheckpoints = async () =>
    (
      await storage.handle.db
        .selectFrom('supernet_files')
        .select('key')
        .where('kind', '=', 'checkpoint')
        .execute()
    ).map((r) => r.key);
  const before = new Set(await storedCheckpoints());
  const first = await submit(body);
  // The first job is training (its checkpoint is in the database) when the second arrives.
  await waitFor(
    "the first job's stored checkpoint",
    async () => ((await storedCheckpoints()).some((k) => !before.has(k)) ? true : undefined),
    120_000,
    200,
  );
  const second = await submit(body);
  const done = await Promise.all(
    [first, second].map((id) => waitForStatus(id, ['completed', 'failed'], 600_000)),
  );
  for (const d of done) expect(d.error ?? null).toBeNull();
  const [trained, shared] = done.map((d) => d.result?.supernet);
  expect(trained).toMatchObject({ reused: false, steps: 400 });
  expect(shared).toMatchObject({ reused: true, sharedWith: first, sha256: trained?.sha256 });
  // Finished: no claim and no checkpoint left for the key.
  expect(await storage.supernets.head(trained?.key as string, 'checkpoint')).toBeUndefined();
  expect(
    await storage.handle.db
      .selectFrom('supernet_claims')
      .selectAll()
      .where('key', '=', trained?.key as string)
      .execute(),
  ).toEqual([]);
});

test('killing the worker (kill -9) during supernet training resumes from the last checkpoint', async () => {
  // One segment (at most 250 steps): the retry resumes inside it, from a checkpoint its heartbeat named.
  const id = await submit(jobBody(240, 17, false));
  // A checkpoint on disk means training is under way past step 0.
  await waitFor(
    'a supernet checkpoint',
    async () => (supernetFiles().some((f) => f.endsWith('.ckpt.sha256')) ? true : undefined),
    120_000,
    200,
  );
  const orphans = childPids(stack.worker!.pid);
  await stack.worker!.kill9();
  await waitForExit('orphaned trainings to exit', orphans);
  await stack.startWorker({
    trainingConcurrency: 2,
    verificationTimeoutSeconds: 2,
    supernetCheckpointSeconds: 1,
  });
  const done = await waitForStatus(id, ['completed', 'failed', 'cancelled'], 600_000);
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe('completed');
  const summary = done.result?.supernet;
  expect(summary?.steps).toBe(240);
  // The retried training did not restart at step 0.
  expect(summary?.resumedFromStep).toBeGreaterThan(0);
  expect(supernetFiles().filter((f) => f.endsWith('.ckpt'))).toEqual([]);
});

test('cancelling during supernet training stops it and leaves no artifact marked complete', async () => {
  const worker = stack.worker!;
  const before = new Set(supernetFiles());
  const id = await submit(jobBody(5000, 29, false));
  const trainers = await waitFor(
    'the supernet training process',
    async () => {
      const pids = childPids(worker.pid);
      return pids.length > 0 ? pids : undefined;
    },
    60_000,
  );
  const cancel = await stack.http('POST', `/v1/jobs/${id}/cancel`);
  expect([200, 202]).toContain(cancel.status);
  await waitForStatus(id, ['cancelled'], 60_000);
  await waitForExit('training processes to exit', trainers);
  const added = supernetFiles().filter((f) => !before.has(f));
  // Checkpoints may stay (a later job with the same key resumes from them); a finished file may not.
  expect(added.filter((f) => f.endsWith('.supernet') || f.endsWith('.supernet.sha256'))).toEqual([]);
});
