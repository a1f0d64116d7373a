import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { DevicePrecision } from '@edgenas/contracts';
import { MacroConfig, createRng, formatArchitecture, sampleArchitecture } from '@edgenas/search-space';
import { createApiApp } from '../../apps/api/src/app';
import { runPass, PassSummary } from '../../apps/agent/src/agent';
import { DEFAULT_BENCHMARK_OPTIONS, describeDevice } from '@edgenas/device-benchmark';
import { AgentStore } from '../../apps/agent/src/store';
import { TemporalDevServer, startTemporalDevServer } from './temporal-server';
import { WorkerProcess, processAlive, spawnWorkerProcess } from './jobs-worker-process';
import { ScratchDatabase, createScratchDatabase } from './scratch-database';

export const API_KEY = 'jobs-e2e-key';

/**
 * Real Temporal dev server, real API over HTTP, SQLite in a temp dir (or a fresh PostgreSQL database: see
 * createScratchDatabase); the worker runs as its own process.
 */
export interface JobsStack {
  readonly dir: string;
  readonly apiUrl: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly temporal: TemporalDevServer;
  readonly workerLog: string;
  worker: WorkerProcess | undefined;
  startWorker(opts?: {
    trainingConcurrency?: number;
    verificationTimeoutSeconds?: number;
    finalVerificationTimeoutSeconds?: number;
    supernetCheckpointSeconds?: number;
    finalCheckpointSeconds?: number;
  }): Promise<WorkerProcess>;
  http<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<HttpResult<T>>;
  close(): Promise<void>;
}

export interface HttpResult<T> {
  readonly status: number;
  readonly body: T;
  readonly bytes: Buffer;
}

/** The first port in [from, to] that is free on 127.0.0.1 now (another run of the suite may hold the first). */
export async function freePort(from: number, to: number): Promise<number> {
  for (let port = from; port <= to; port++) {
    const free = await new Promise<boolean>((resolveFree) => {
      const server = createServer();
      server.once('error', () => resolveFree(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

/** Ports are taken from the given ranges (first free one), so concurrent runs of the suite do not collide. */
export async function startJobsStack(ranges: {
  api: readonly [number, number];
  temporal: readonly [number, number];
}): Promise<JobsStack> {
  const ports = { api: await freePort(...ranges.api), temporal: await freePort(...ranges.temporal) };
  const dir = mkdtempSync(join(tmpdir(), 'edgenas-jobs-'));
  const dataDir = join(dir, 'data');
  const temporal = await startTemporalDevServer(ports.temporal);
  let scratch: ScratchDatabase | undefined;
  let app: INestApplication | undefined;
  try {
    scratch = await createScratchDatabase(dir);
    app = await createApiApp({
      databaseUrl: scratch.url,
      apiKeys: [API_KEY],
      temporal: { address: temporal.address, namespace: temporal.namespace },
      dataDir,
      logger: false,
    });
    await app.listen(ports.api, '127.0.0.1');
  } catch (err) {
    await temporal.stop();
    await scratch?.drop();
    throw err;
  }
  const { url: databaseUrl } = scratch;
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  const workerLog = join(dir, 'worker.log');
  const stack: JobsStack = {
    dir,
    apiUrl,
    databaseUrl,
    dataDir,
    temporal,
    workerLog,
    worker: undefined,
    async startWorker(opts = {}) {
      const worker = spawnWorkerProcess({
        temporalAddress: temporal.address,
        databaseUrl,
        dataDir,
        logFile: workerLog,
        trainingConcurrency: opts.trainingConcurrency ?? 2,
        verificationTimeoutSeconds: opts.verificationTimeoutSeconds ?? 10,
        finalVerificationTimeoutSeconds: opts.finalVerificationTimeoutSeconds,
        supernetCheckpointSeconds: opts.supernetCheckpointSeconds,
        finalCheckpointSeconds: opts.finalCheckpointSeconds,
      });
      stack.worker = worker;
      await worker.ready;
      return worker;
    },
    async http<T>(method: string, path: string, body?: unknown, token = API_KEY): Promise<HttpResult<T>> {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const type = res.headers.get('content-type') ?? '';
      const parsed =
        type.includes('json') && bytes.length > 0
          ? (JSON.parse(bytes.toString('utf8')) as T)
          : (undefined as T);
      return { status: res.status, body: parsed, bytes };
    },
    async close() {
      await stack.worker?.stop();
      await app?.close();
      await temporal.stop();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The real device agent (in this process): registers this CPU and benchmarks what the LUT lacks, or verifies. */
export interface TestAgent {
  readonly stateDir: string;
  pass(): Promise<PassSummary>;
  close(): void;
}

export function createTestAgent(
  stack: Pick<JobsStack, 'dir' | 'apiUrl'>,
  name: string,
  spaces: readonly MacroConfig[],
  opts: { readonly precision?: DevicePrecision; readonly stateDir?: string } = {},
): TestAgent {
  const stateDir = opts.stateDir ?? join(stack.dir, `agent-${name}`);
  const store = AgentStore.open(stateDir);
  const ctx = {
    store,
    profile: describeDevice(name, 1, opts.precision),
    apiUrl: stack.apiUrl,
    apiKey: API_KEY,
    spaces,
    // Few, short rounds: the test needs a real LUT, not a precise one.
    benchmark: {
      ...DEFAULT_BENCHMARK_OPTIONS,
      warmupRuns: 1,
      rounds: 3,
      minRepeats: 3,
      maxRepeats: 20,
      minRoundMs: 2,
    },
    retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    log: () => undefined,
    progress: () => ({ update: () => undefined, stop: () => undefined }),
  };
  return { stateDir, pass: () => runPass(ctx), close: () => store.close() };
}

/**
 * Runs `work` while the agent keeps making passes (as a running agent would: it answers verification
 * requests), then stops the agent after its current pass.
 */
export async function whileAgentRuns<T>(agent: TestAgent, work: () => Promise<T>): Promise<T> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await agent.pass();
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    return await work();
  } finally {
    running = false;
    await loop;
  }
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A latency budget that splits the space: the median predicted latency of 9 seeded random architectures of
 * `config` on the device (over HTTP, as a user would price them).
 */
export async function medianPredictedLatency(
  stack: JobsStack,
  deviceId: string,
  config: MacroConfig,
  seed: number,
): Promise<number> {
  const rng = createRng(seed);
  const latencies: number[] = [];
  for (let i = 0; i < 9; i++) {
    const architecture = formatArchitecture(sampleArchitecture(config, rng), config);
    const res = await stack.http<{ latencyMs: number }>('POST', '/v1/latency/predict', {
      deviceId,
      architecture,
      space: config.name,
    });
    if (res.status !== 200) throw new Error(`latency prediction answered ${res.status}`);
    latencies.push(res.body.latencyMs);
  }
  return [...latencies].sort((a, b) => a - b)[4];
}

/**
 * Waits until none of `pids` is alive (training processes after a cancel, or orphaned by a killed worker).
 * The limit is generous: on a loaded machine a process can take a while to see its signal or lost parent.
 */
export function waitForExit(what: string, pids: readonly number[], timeoutMs = 120_000): Promise<true> {
  return waitFor(what, async () => (pids.some(processAlive) ? undefined : true), timeoutMs);
}
