/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * Faults on the real stack: after each one nothing is lost, nothing is duplicated, and a job ends as it would
 * have without the fault. Real Temporal dev server, real SQLite files, the API and the worker as their own
 * processes where kill -9 has to be real, the real device agent benchmarking with ONNX Runtime.
 *
 * A device agent offline for a while, then back (every measurement synced exactly once, exact row counts, and
 * a resend whose answer was lost kept once) is covered by test/agent.e2e-spec.ts ("works offline: …").
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { CALIBRATION_SET_SIZE, spaceSignatures } from '@edgenas/latency-predictor';
import { CandidateSummary } from '@edgenas/contracts';
import { PROXY_28 } from '@edgenas/search-space';
import { openStorage, Storage } from '@edgenas/storage';
import { createApiApp } from '../apps/api/src/app';
import { PROFILE, syntheticBlockRow } from './support/api-fixtures';
import {
  API_KEY,
  JobsStack,
  createTestAgent,
  freePort,
  medianPredictedLatency,
  startJobsStack,
  waitFor,
} from './support/jobs-stack';
import { ApiProcess, startApiProcess } from './support/api-process';
import { startCuttingProxy } from './support/cutting-proxy';
import { processAlive } from './support/jobs-worker-process';
import { TemporalDevServer, startTemporalDevServer } from './support/temporal-server';

jest.setTimeout(300_000);

const PORTS = { api: [3520, 3539], temporal: [7520, 7529] } as const;
const INPUT = { height: 28, width: 28, channels: 1 };

describe('Temporal dev server killed (kill -9) and restarted mid-job with its state on disk', () => {
  let stack: JobsStack;
  let storage: Storage;
  let deviceId: string;
  let budgetMs: number;

  beforeAll(async () => {
    stack = await startJobsStack(PORTS);
    const agent = createTestAgent(stack, 'faults-temporal-cpu', [PROXY_28]);
    try {
      const pass = await agent.pass();
      expect(pass.online).toBe(true);
      deviceId = pass.deviceId as string;
    } finally {
      agent.close();
    }
    storage = await openStorage(stack.databaseUrl);
    budgetMs = await medianPredictedLatency(stack, deviceId, PROXY_28, 99);
    await stack.startWorker({ trainingConcurrency: 2, verificationTimeoutSeconds: 2 });
  });

  afterAll(async () => {
    await storage?.close();
    await stack?.close();
  });

  const jobBody = () => ({
    deviceIds: [deviceId],
    latencyBudgetMs: budgetMs,
    space: PROXY_28.name,
    input: INPUT,
    classes: 10,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      steps: 4,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 2, population: 3, maxTrainedCandidates: 4, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed: 31,
    evaluation: { mode: 'standalone', baselines: false },
  });

  async function submit(): Promise<string> {
    const res = await stack.http<{ id: string }>('POST', '/v1/jobs', jobBody());
    expect(res.status).toBe(202);
    return res.body.id;
  }

  /** The job's end state; the API answers 503 while Temporal is away, so only a stored end counts. */
  async function finished(id: string): Promise<{ status: string; error?: string | null }> {
    return waitFor(
      `job ${id} to finish`,
      async () => {
        const res = await stack.http<{ status: string; error?: string | null }>('GET', `/v1/jobs/${id}`);
        return res.status === 200 && ['completed', 'failed', 'cancelled'].includes(res.body.status)
          ? res.body
          : undefined;
      },
      240_000,
    );
  }

  /** What must not depend on the fault: the front's architectures, accuracies and predicted latencies. */
  async function frontOf(id: string) {
    const res = await stack.http<{ front: CandidateSummary[] }>('GET', `/v1/jobs/${id}/pareto`);
    expect(res.status).toBe(200);
    return res.body.front
      .map((c) => ({
        architectureId: c.architectureId,
        architecture: c.architecture,
        accuracy: c.accuracy,
        predictedLatencyMs: c.predictedLatencyMs,
        predictedLatencyByDevice: c.predictedLatencyByDevice,
      }))
      .sort((a, b) => a.architectureId.localeCompare(b.architectureId));
  }

  async function candidatesOf(id: string) {
    const rows = await storage.candidates.list(id);
    return rows
      .map((c) => ({
        architectureId: c.architectureId,
        generation: c.generation,
        status: c.status,
        accuracy: c.accuracy,
        predictedLatencyMs: c.predictedLatencyMs,
        trainings: (c.training as { trainings?: number } | null)?.trainings ?? null,
      }))
      .sort((a, b) => a.architectureId.localeCompare(b.architectureId));
  }

  it('the job completes with the same front and candidates as the same job without the fault, none trained twice', async () => {
    const reference = await submit();
    const referenceEnd = await finished(reference);
    expect(referenceEnd.error ?? null).toBeNull();
    expect(referenceEnd.status).toBe('completed');

    const faulted = await submit();
    // Kill once a candidate is recorded and the job is still running.
    await waitFor(
      'a trained candidate',
      async () => ((await storage.candidates.count(faulted, 'trained')) > 0 ? true : undefined),
      120_000,
      200,
    );
    expect((await storage.jobs.get(faulted))?.status).toBe('running');
    await stack.temporal.kill9();
    const down = await stack.http('GET', '/health/ready');
    expect(down.status).toBe(503);
    await stack.temporal.restart();

    const end = await finished(faulted);
    expect(end.error ?? null).toBeNull();
    expect(end.status).toBe('completed');
    // The worker rode the outage out: same process, no restart.
    expect(processAlive(stack.worker!.pid)).toBe(true);

    const front = await frontOf(faulted);
    expect(front.length).toBeGreaterThan(0);
    expect(front).toEqual(await frontOf(reference));

    const candidates = await candidatesOf(faulted);
    const referenceCandidates = await candidatesOf(reference);
    expect(candidates).toEqual(referenceCandidates);
    // Nothing lost (every proposal within budget trained), nothing trained twice.
    expect(candidates.filter((c) => c.status === 'proposed')).toEqual([]);
    const trained = candidates.filter((c) => c.status === 'trained');
    expect(trained.length).toBeGreaterThan(0);
    for (const c of trained) expect(c.trainings).toBe(1);
  });
});

describe('API killed (kill -9) in the middle of a device agent upload (API as its own process)', () => {
  let dir: string;
  let api: ApiProcess | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-faults-api-'));
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the agent's queue resends: every measurement is stored exactly once, whether the cut fell before or after the server stored the batch", async () => {
    const apiPort = await freePort(3540, 3559);
    const proxyPort = await freePort(apiPort + 1, 3569);
    const databaseUrl = `sqlite:${join(dir, 'edgenas.db')}`;
    const startApi = () =>
      startApiProcess({ port: apiPort, databaseUrl, apiKey: API_KEY, dataDir: join(dir, 'data') });
    api = await startApi();
    const proxy = await startCuttingProxy(proxyPort, apiPort);
    const agent = createTestAgent({ dir, apiUrl: proxy.url }, 'faults-upload-cpu', [PROXY_28]);
    const upload = /^POST \/v1\/devices\/[^/ ]+\/measurements /m;
    const killApi = async () => {
      const dead = api as ApiProcess;
      await dead.kill9();
      expect(processAlive(dead.pid)).toBe(false);
    };
    const serverRows = async (deviceId: string) => {
      const storage = await openStorage(databaseUrl);
      try {
        return await storage.measurements.countRows(deviceId);
      } finally {
        await storage.close();
      }
    };
    const signatures = spaceSignatures(PROXY_28).length;
    try {
      // 1. The API dies with half of the first upload's body read: it stored nothing of it.
      const cutMidRequest = proxy.cutNext(upload, 'mid-request', killApi);
      const first = await agent.pass();
      await cutMidRequest;
      const deviceId = first.deviceId as string;
      expect(deviceId).toBeDefined();
      expect(first.uploaded).toBe(0);
      expect(await serverRows(deviceId)).toEqual({ blocks: 0, architectures: 0 });
      // The agent measured on offline; everything waits in its queue.
      expect(first.pending).toBe(signatures);

      // 2. The API stores the next upload and dies before the agent hears the answer.
      api = await startApi();
      const cutAfterResponse = proxy.cutNext(upload, 'after-response', killApi);
      const second = await agent.pass();
      await cutAfterResponse;
      expect(second.uploaded).toBe(0);
      const stored = await serverRows(deviceId);
      expect(stored.blocks).toBeGreaterThan(0);
      expect(stored.blocks).toBeLessThan(signatures);
      expect(second.pending).toBe(signatures);

      // 3. Back up: the queue resends everything; what the server already had counts as duplicates.
      api = await startApi();
      const third = await agent.pass();
      expect(third.online).toBe(true);
      expect(third.duplicates).toBe(stored.blocks);
      expect(third.uploaded).toBe(signatures - stored.blocks + CALIBRATION_SET_SIZE);
      expect(third.pending).toBe(0);
      expect(await serverRows(deviceId)).toEqual({ blocks: signatures, architectures: CALIBRATION_SET_SIZE });
      const lut = await fetch(`${api.url}/v1/devices/${deviceId}/lut?space=${PROXY_28.name}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(((await lut.json()) as { coverage: { ratio: number } }).coverage.ratio).toBe(1);
    } finally {
      agent.close();
      await proxy.close();
    }
  });
});

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN): the disk-full test needs a real small disk. */
function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'edgenas-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const withTmpfs = canMountTmpfs() ? describe : describe.skip;

withTmpfs('SQLite database on a real small disk (a 24 MB tmpfs): full, then mounted read-only', () => {
  let dir: string;
  let disk: string;
  let mounted = false;
  let temporal: TemporalDevServer | undefined;
  let app: INestApplication | undefined;
  let api: ApiProcess | undefined;
  /** Written by the first test, read by the second. */
  let file: string;
  let deviceId: string;
  let token: string;
  const stored: string[] = [];
  const storedIds = () => {
    // read-write (though it only reads): closing the last connection folds the WAL back into the file
    const db = new Database(file);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      return db
        .prepare('SELECT id FROM block_measurements WHERE device_id = ?')
        .pluck()
        .all(deviceId) as string[];
    } finally {
      db.close();
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-faults-disk-'));
    disk = join(dir, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk]);
    mounted = true;
  });
  afterAll(async () => {
    await app?.close();
    await api?.stop();
    await temporal?.stop();
    if (mounted) execFileSync('umount', ['-l', disk]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 naming the full disk (no internals), reports the database not ready, and after space is freed keeps every row, passes integrity_check and writes again', async () => {
    file = join(disk, 'edgenas.db');
    temporal = await startTemporalDevServer(await freePort(7530, 7539));
    app = await createApiApp({
      databaseUrl: `sqlite:${file}`,
      apiKeys: [API_KEY],
      temporal: { address: temporal.address, namespace: temporal.namespace },
      dataDir: join(dir, 'data'),
      logger: false,
    });
    const port = await freePort(3570, 3589);
    await app.listen(port, '127.0.0.1');
    const call = async (method: string, path: string, body?: unknown, token = API_KEY) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    expect((await call('GET', '/health/ready')).status).toBe(200);

    const device = await call('POST', '/v1/devices', { name: 'disk-full-cpu', profile: PROFILE });
    expect(device.status).toBe(201);
    deviceId = device.body.id as string;
    token = device.body.token as string;
    const signatures = spaceSignatures(PROXY_28);
    const batch = () => signatures.slice(0, 100).map((sig) => syntheticBlockRow(sig));
    const upload = (rows: ReturnType<typeof batch>) =>
      call('POST', `/v1/devices/${deviceId}/measurements`, { blocks: rows }, token);
    const first = batch();
    expect((await upload(first)).body).toMatchObject({ accepted: 100, duplicates: 0 });
    stored.push(...first.map((r) => r.id));

    // Fill the disk: big writes first, then smaller ones down to a page, until the file system refuses.
    const filler = openSync(join(disk, 'filler'), 'w');
    for (let size = 1024 * 1024; size >= 512; size /= 2) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(filler, chunk);
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          break;
        }
      }
    }
    closeSync(filler);

    const notReady = await call('GET', '/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body.errors).toContainEqual({
      field: 'database',
      reason: 'the disk holding the database is full',
    });

    // Uploads go on until SQLite needs a page the disk does not have (its WAL may hold some room).
    let refused: { rows: ReturnType<typeof batch>; res: Awaited<ReturnType<typeof upload>> } | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const rows = batch();
      const res = await upload(rows);
      if (res.status === 200) stored.push(...rows.map((r) => r.id));
      else refused = { rows, res };
    }
    expect(refused).toBeDefined();
    const { rows: refusedRows, res } = refused!;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      statusCode: 503,
      message: 'database unavailable: the disk holding the database is full; retry later',
      errors: [{ field: 'database', reason: 'the disk holding the database is full' }],
    });
    expect(res.text).not.toMatch(/SQLITE|sqlite|edgenas\.db|tmp/);
    // Reads still answer.
    expect((await call('GET', `/v1/devices/${deviceId}`)).status).toBe(200);

    // Space again: ready, nothing lost, nothing of the refused batch half-stored, writes work.
    rmSync(join(disk, 'filler'));
    expect((await call('GET', '/health/ready')).status).toBe(200);
    expect((await upload(refusedRows)).body).toMatchObject({ accepted: 100, duplicates: 0 });
    stored.push(...refusedRows.map((r) => r.id));
    const next = batch();
    expect((await upload(next)).body).toMatchObject({ accepted: 100, duplicates: 0 });
    stored.push(...next.map((r) => r.id));

    await app.close();
    app = undefined;
    const ids = storedIds();
    expect(ids.length).toBe(stored.length);
    expect(new Set(ids)).toEqual(new Set(stored));
  });

  it('an API started on the read-only disk exits naming the database and why; once writable, every row is there and writes work', async () => {
    // Nothing holds the file open now, so the file system can really go read-only.
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    const port = await freePort(3570, 3589);
    const start = () =>
      startApiProcess({
        port,
        databaseUrl: `sqlite:${file}`,
        apiKey: API_KEY,
        dataDir: join(dir, 'data'),
        temporalAddress: temporal!.address,
      });
    const refused = await start().then(
      async (started) => {
        await started.stop();
        return 'the API started';
      },
      (err: Error) => err.message,
    );
    expect(refused).toMatch(
      new RegExp(
        `edgenas api: the database is read-only: cannot open sqlite:${file}: .*not writable \\(EROFS`,
      ),
    );
    expect(refused).not.toMatch(/\n\s+at /); // no stack trace

    execFileSync('mount', ['-o', 'remount,rw', disk]);
    api = await start();
    const call = (method: string, path: string, body?: unknown, bearer = API_KEY) =>
      fetch(`${api!.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    await waitFor(
      'the API ready',
      async () => ((await call('GET', '/health/ready')).status === 200 ? true : undefined),
      60_000,
    );
    expect((await call('GET', `/v1/devices/${deviceId}`)).status).toBe(200);
    const rows = spaceSignatures(PROXY_28)
      .slice(0, 50)
      .map((sig) => syntheticBlockRow(sig));
    const res = await call('POST', `/v1/devices/${deviceId}/measurements`, { blocks: rows }, token);
    expect(await res.json()).toMatchObject({ accepted: 50, duplicates: 0 });
    stored.push(...rows.map((r) => r.id));
    await api.stop();
    api = undefined;
    const ids = storedIds();
    expect(ids.length).toBe(stored.length);
    expect(new Set(ids)).toEqual(new Set(stored));
  });
});
