/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * INT8 latency end to end: two device agents on this CPU, one fp32 and one int8 profile, fill proxy-28's LUT
 * and calibration set with real ONNX Runtime (the int8 one times the quantized models); an int8 job over HTTP
 * (real API, real Temporal dev server, real SQLite, the worker as its own process) is priced from the int8
 * LUT and calibration; a job whose devices are of another precision is refused naming them.
 */
import { CandidateSummary } from '@edgenas/contracts';
import {
  DevicePredictor,
  buildDevicePredictor,
  missingSignatures,
  predictLatency,
} from '@edgenas/latency-predictor';
import { PROXY_28, parseArchitecture, signatureKey } from '@edgenas/search-space';
import { Storage, loadDeviceRows, openStorage } from '@edgenas/storage';
import {
  JobsStack,
  TestAgent,
  createTestAgent,
  startJobsStack,
  waitFor,
  whileAgentRuns,
} from './support/jobs-stack';

jest.setTimeout(420_000);

const PORTS = { api: [3600, 3619], temporal: [7600, 7604] } as const;
const INPUT = { height: 28, width: 28, channels: 1 };
const CLASSES = 10;

interface ErrorBody {
  readonly errors: readonly { readonly field: string; readonly reason: string }[];
}

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly error?: string | null;
  readonly input: { readonly precision?: string };
  readonly result: { readonly precision?: string; readonly front: readonly CandidateSummary[] } | null;
}

let stack: JobsStack;
let storage: Storage;
let fp32Agent: TestAgent;
let int8Agent: TestAgent;
let fp32Id: string;
let int8Id: string;

function jobBody(deviceIds: readonly string[], overrides: Record<string, unknown> = {}) {
  return {
    deviceIds,
    latencyBudgetMs: 1000,
    space: PROXY_28.name,
    input: INPUT,
    classes: CLASSES,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      steps: 3,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 1, population: 3, maxTrainedCandidates: 3, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed: 11,
    evaluation: { mode: 'standalone', baselines: false },
    ...overrides,
  };
}

async function predictorOf(deviceId: string): Promise<DevicePredictor> {
  const rows = await loadDeviceRows(storage, deviceId);
  if (!rows) throw new Error(`device ${deviceId} has no rows`);
  return buildDevicePredictor(rows, PROXY_28, { now: new Date() });
}

beforeAll(async () => {
  stack = await startJobsStack(PORTS);
  storage = await openStorage(stack.databaseUrl);
  fp32Agent = createTestAgent(stack, 'int8-e2e-fp32', [PROXY_28]);
  int8Agent = createTestAgent(stack, 'int8-e2e-int8', [PROXY_28], { precision: 'int8' });
  const fp32 = await fp32Agent.pass();
  const int8 = await int8Agent.pass();
  for (const pass of [fp32, int8]) {
    expect(pass.online).toBe(true);
    expect(pass.blocksMeasured).toBeGreaterThan(0);
    expect(pass.calibrationMeasured).toBeGreaterThan(0);
  }
  fp32Id = fp32.deviceId as string;
  int8Id = int8.deviceId as string;
  await stack.startWorker({ trainingConcurrency: 1, verificationTimeoutSeconds: 60 });
});

afterAll(async () => {
  await storage?.close();
  fp32Agent?.close();
  int8Agent?.close();
  if (stack) {
    if (process.env.EDGENAS_SHOW_WORKER_LOG) console.log(stack.worker?.log());
    await stack.close();
  }
});

test('the int8 agent registers an int8 profile of this CPU and fills its own LUT with the quantized blocks', async () => {
  const devices = await stack.http<{ id: string; precision: string; profile: { precision: string } }[]>(
    'GET',
    '/v1/devices',
  );
  expect(devices.status).toBe(200);
  const byId = new Map(devices.body.map((d) => [d.id, d]));
  expect(byId.get(fp32Id)).toMatchObject({ precision: 'fp32', profile: { precision: 'fp32' } });
  expect(byId.get(int8Id)).toMatchObject({ precision: 'int8', profile: { precision: 'int8' } });

  // Both LUTs price the whole space, each from its own rows: the same signatures, other latencies.
  const [fp32, int8] = [await predictorOf(fp32Id), await predictorOf(int8Id)];
  for (const p of [fp32, int8]) {
    expect(missingSignatures(p.lut, PROXY_28)).toEqual([]);
    expect(p.calibration).toBeDefined();
  }
  expect(int8.lutVersion).not.toBe(fp32.lutVersion);
  const fp32Rows = (await loadDeviceRows(storage, fp32Id))!.blocks;
  const int8Rows = (await loadDeviceRows(storage, int8Id))!.blocks;
  expect(new Set(int8Rows.map((r) => signatureKey(r.signature)))).toEqual(
    new Set(fp32Rows.map((r) => signatureKey(r.signature))),
  );
  // the rows say what was timed: quantized models on the int8 profile
  expect(new Set(int8Rows.map((r) => r.agentVersion))).toEqual(new Set(['edgenas-agent/0.1.0+int8']));
  expect(new Set(fp32Rows.map((r) => r.agentVersion))).toEqual(new Set(['edgenas-agent/0.1.0']));
  const calibrationRows = (await loadDeviceRows(storage, int8Id))!.architectures;
  expect(calibrationRows.length).toBeGreaterThan(0);
  expect(calibrationRows.every((r) => r.agentVersion.endsWith('+int8'))).toBe(true);
  const fp32Estimate = new Map(fp32Rows.map((r) => [signatureKey(r.signature), r.estimateMs]));
  const differing = int8Rows.filter((r) => r.estimateMs !== fp32Estimate.get(signatureKey(r.signature)));
  expect(differing.length).toBeGreaterThan(int8Rows.length / 2);
});

test('an agent of the other precision cannot take over a device of that name', async () => {
  const impostor = createTestAgent(stack, 'int8-e2e-fp32', [PROXY_28], {
    precision: 'int8',
    stateDir: `${stack.dir}/agent-impostor`,
  });
  try {
    await expect(impostor.pass()).rejects.toThrow(/different runtime or precision is a different device/);
  } finally {
    impostor.close();
  }
});

test('a job whose devices are not profiles of its precision is a 400 naming them', async () => {
  const int8OnFp32 = await stack.http<ErrorBody>(
    'POST',
    '/v1/jobs',
    jobBody([int8Id, fp32Id], { precision: 'int8' }),
  );
  expect(int8OnFp32.status).toBe(400);
  expect(int8OnFp32.body.errors.map((e) => e.field)).toEqual(['deviceIds.1']);
  expect(int8OnFp32.body.errors[0].reason).toMatch(/fp32 profile, but the job's precision is int8/);

  const fp32OnInt8 = await stack.http<ErrorBody>('POST', '/v1/jobs', jobBody([int8Id]));
  expect(fp32OnInt8.status).toBe(400);
  expect(fp32OnInt8.body.errors).toEqual([
    { field: 'deviceIds.0', reason: expect.stringMatching(/int8 profile, but the job's precision is fp32/) },
  ]);

  const unknown = await stack.http<ErrorBody>('POST', '/v1/jobs', jobBody([int8Id], { precision: 'int4' }));
  expect(unknown.status).toBe(400);
  expect(unknown.body.errors.map((e) => e.field)).toEqual(['precision']);
  expect(await storage.jobs.list({})).toEqual([]);
});

test('an int8 job is priced from the int8 LUT and calibration, and its result says int8', async () => {
  const created = await stack.http<{ id: string; input: { precision: string } }>(
    'POST',
    '/v1/jobs',
    jobBody([int8Id], { precision: 'int8' }),
  );
  expect(created.status).toBe(202);
  expect(created.body.input.precision).toBe('int8');
  const id = created.body.id;

  // The int8 agent keeps running: it measures the front (quantized) on the job's verification requests.
  const done = await whileAgentRuns(int8Agent, () =>
    waitFor(
      `job ${id} to finish`,
      async () => {
        const res = await stack.http<JobView>('GET', `/v1/jobs/${id}`);
        return ['completed', 'failed', 'cancelled'].includes(res.body.status) ? res.body : undefined;
      },
      300_000,
    ),
  );
  expect(done.error ?? null).toBeNull();
  expect(done.status).toBe('completed');
  expect(done.input.precision).toBe('int8');
  expect(done.result?.precision).toBe('int8');
  const listed = await stack.http<{ id: string; precision: string }[]>('GET', '/v1/jobs');
  expect(listed.body.find((j) => j.id === id)?.precision).toBe('int8');

  // Every priced candidate's latency is the int8 LUT's sum under the int8 calibration, not the fp32 one's.
  const [fp32, int8] = [await predictorOf(fp32Id), await predictorOf(int8Id)];
  const priced = (await storage.candidates.list(id)).filter((c) => c.predictedLatencyByDevice);
  expect(priced.length).toBeGreaterThan(0);
  for (const c of priced) {
    const arch = parseArchitecture(c.architecture, PROXY_28);
    const expected = predictLatency(arch, PROXY_28, int8.lut, int8.calibration).latencyMs;
    const onFp32 = predictLatency(arch, PROXY_28, fp32.lut, fp32.calibration).latencyMs;
    expect(Object.keys(c.predictedLatencyByDevice!)).toEqual([int8Id]);
    expect(c.predictedLatencyByDevice![int8Id]).toBeCloseTo(expected, 9);
    expect(c.predictedLatencyByDevice![int8Id]).not.toBeCloseTo(onFp32, 6);
  }
  // The front was measured on the int8 device as well.
  const pareto = await stack.http<{ front: CandidateSummary[] }>('GET', `/v1/jobs/${id}/pareto`);
  expect(pareto.body.front.length).toBeGreaterThan(0);
  expect(pareto.body.front.some((m) => m.measuredLatencyByDevice?.[int8Id] !== undefined)).toBe(true);
  const verified = (await loadDeviceRows(storage, int8Id))!.architectures.filter((r) => r.verificationId);
  expect(verified.length).toBeGreaterThan(0);
  expect(verified.every((r) => r.agentVersion.endsWith('+int8'))).toBe(true);
});
