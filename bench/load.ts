/**
 * The API under load on loopback, bounded in count and time, with every baseline measured in the same run:
 *  1. Measurement ingestion: a registered device's token, batches of block measurements (the device agent's
 *     batch size) with fresh ids per request, POST /v1/devices/:id/measurements —
 *       a. sustained at an offered rate (--rate measurements/s) for --duration seconds, beside GET /v1/health
 *          offered the same request rate on as many connections (the baseline);
 *       b. saturated (no rate limit) for --saturation seconds, beside GET /v1/health saturated.
 *     After each run the rows stored for that device are counted in the database and compared with what the
 *     server acknowledged; batches whose answer never came (in flight when the run stopped) are re-sent with
 *     the same ids, as the device agent does, and must come back as duplicates or new rows, so that in the end
 *     rows == accepted acknowledgements exactly: none lost, none stored twice.
 *  2. Unless --jobs 0: that many tiny NAS jobs (real Temporal dev server, the worker as its own process with
 *     real proxy training) and, while they run, GET /v1/jobs then GET /v1/health (the baseline), each at an
 *     offered --read-rate and then saturated; then every job must complete within --jobs-timeout seconds.
 *  3. With --scale: trained candidates per hour with one worker on the training queue, then two (one Temporal,
 *     one database), each for --scale seconds of a steady stream of tiny jobs.
 * The API runs in its own process (bench/load-api-child.ts) on 127.0.0.1 with its production request logging
 * (to a file); its CPU time is reported beside wall time, the worker's (with its training processes) too.
 *
 *   npm run bench:load -- [--duration 60] [--rate 2000] [--batch 100] [--connections 4] [--saturation 20]
 *     [--baseline 10] [--jobs 20] [--jobs-load 30] [--jobs-timeout 900] [--read-connections 10] [--read-rate 50]
 *     [--database-url sqlite:/tmp/x.db | postgres://…] [--scale 0] [--out .edgenas/bench-load/report.json]
 */
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { Command } from 'commander';
import type { Level } from 'pino';
import { int } from './options';
import { PROXY_28, BlockSignature } from '@edgenas/search-space';
import { signatureFeatures, spaceSignatures } from '@edgenas/latency-predictor';
import { describeDevice } from '@edgenas/device-benchmark';
import { openStorage } from '@edgenas/storage';
import { devServerArgs } from '../apps/launcher/src/config';
import { temporalAnswers, waitUntil } from '../apps/launcher/src/wait';
import { DEFAULT_SYNC_BATCH } from '../apps/agent/src/sync';
import type { LoadApiMessage, LoadApiOptions, LoadApiRequest } from './load-api-child';

interface Flags {
  duration: number;
  rate: number;
  batch: number;
  connections: number;
  saturation: number;
  baseline: number;
  jobs: number;
  jobsLoad: number;
  jobsTimeout: number;
  readConnections: number;
  readRate: number;
  trainingConcurrency: number;
  scale: number;
  databaseUrl?: string;
  logLevel: Level;
  cpuProf?: string;
  out: string;
}

const ROOT = path.resolve(__dirname, '..', '..');
const API_KEY = `bench-load-${randomUUID()}`;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const loadAverages = (): number[] => os.loadavg().map((l) => Math.round(l * 100) / 100);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(from: number, to: number): Promise<number> {
  for (let port = from; port <= to; port++) {
    const free = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once('error', () => done(false));
      server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

/** CPU seconds of a process and its waited-for children (Linux /proc; clock ticks at 100 Hz). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11..14] = utime, stime, cutime, cstime (fields 14–17 of proc(5))
    return fields.slice(11, 15).reduce((s, v) => s + Number(v), 0) / 100;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The stack: Temporal dev server, the API process, worker processes.

interface Temporal {
  readonly address: string;
  stop(): Promise<void>;
}

async function startTemporal(dir: string): Promise<Temporal> {
  const cli = path.join(ROOT, '.tools', 'bin', 'temporal');
  if (!existsSync(cli)) throw new Error(`no Temporal CLI at ${cli} (npm install puts it there)`);
  const port = await freePort(7600, 7699);
  const child = spawn(
    cli,
    devServerArgs({
      dbFile: path.join(dir, 'temporal.db'),
      port,
      uiPort: null,
      namespace: 'default',
      ip: '127.0.0.1',
    }),
    { stdio: 'ignore' },
  );
  const address = `127.0.0.1:${port}`;
  const died = new AbortController();
  child.once('exit', () => died.abort());
  await waitUntil(`Temporal dev server on ${address}`, () => temporalAnswers(address, 'default'), {
    timeoutMs: 120_000,
    intervalMs: 300,
    signal: died.signal,
  });
  return { address, stop: () => stopChild(child, 10_000) };
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

interface ApiProcess {
  readonly url: string;
  readonly pid: number;
  /** CPU seconds (user + system) the API process has used so far. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function startApi(
  opts: Omit<LoadApiOptions, 'port'>,
  logFile: string,
  cpuProfileDir: string | undefined,
): Promise<ApiProcess> {
  const port = await freePort(3700, 3799);
  const log = openSync(logFile, 'a');
  const child = fork(path.join(__dirname, 'load-api-child.js'), [JSON.stringify({ ...opts, port })], {
    stdio: ['ignore', log, log, 'ipc'],
    execArgv: cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(cpuProfileDir)] : [],
  });
  closeSync(log);
  const next = (kind: LoadApiMessage['kind']) =>
    new Promise<LoadApiMessage>((resolve, reject) => {
      const onExit = (code: number | null) => {
        child.off('message', onMessage);
        reject(new Error(`API process exited (${code}); see ${logFile}`));
      };
      const onMessage = (m: LoadApiMessage) => {
        if (m.kind !== kind && m.kind !== 'failed') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (m.kind === 'failed') reject(new Error(`API process failed: ${m.message}`));
        else resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  await next('listening');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    async cpuSeconds() {
      const answer = next('cpu');
      child.send({ kind: 'cpu' } satisfies LoadApiRequest);
      const m = await answer;
      return m.kind === 'cpu' ? (m.userMicros + m.systemMicros) / 1e6 : NaN;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.send({ kind: 'close' } satisfies LoadApiRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface Worker {
  readonly pid: number;
  stop(): Promise<void>;
}

async function startWorker(
  env: { temporalAddress: string; databaseUrl: string; dataDir: string },
  queues: string,
  trainingConcurrency: number,
  logFile: string,
): Promise<Worker> {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'dist', 'apps', 'worker', 'src', 'main.js'),
      '--queues',
      queues,
      '--training-concurrency',
      String(trainingConcurrency),
      // nothing answers verification here: a finished job waits this long for device agents, then completes
      '--verification-timeout',
      '1',
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.temporalAddress,
        TEMPORAL_NAMESPACE: 'default',
        DATABASE_URL: env.databaseUrl,
        EDGENAS_DATA_DIR: env.dataDir,
        EDGENAS_LOG_FORMAT: 'json',
        EDGENAS_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('close', () => log.end());
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('"msg":"worker started"')) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it started; see ${logFile}`)),
    );
  });
  return { pid: child.pid as number, stop: () => stopChild(child, 30_000) };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP helpers

async function http<T>(
  base: string,
  method: string,
  route: string,
  body: unknown,
  token = API_KEY,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function registerDevice(api: ApiProcess, name: string): Promise<{ id: string; token: string }> {
  const res = await http<{ id: string; token: string }>(api.url, 'POST', '/v1/devices', {
    name,
    profile: describeDevice(name, 1),
  });
  if (res.status !== 201) throw new Error(`registering ${name} answered ${res.status}`);
  return res.body;
}

/** A synthetic latency (not a measurement): MAC-proportional plus an overhead, so jobs see a plausible LUT. */
function blockRow(sig: BlockSignature, id: string, jitter: number, measuredAt: string) {
  const ms = (0.02 + signatureFeatures(sig).macs * 2e-7) * (1 + jitter);
  return {
    id,
    signature: sig,
    estimateMs: ms,
    medianMs: ms * 1.05,
    p10Ms: ms,
    p90Ms: ms * 1.2,
    rounds: 5,
    repeatsPerRound: 20,
    warmupRuns: 5,
    overheadMs: 0.01,
    agentVersion: 'bench-load',
    measuredAt,
    driftFlagged: false,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Runs

interface RunFigures {
  readonly name: string;
  readonly route: string;
  readonly connections: number;
  /** Offered requests/s (undefined: saturated, no limit). */
  readonly offeredRequestsPerSecond?: number;
  readonly seconds: number;
  readonly responses2xx: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly apiCpuSeconds: number;
  /** API CPU seconds per wall second (1.0 = one core busy). */
  readonly apiCpuShare: number;
  readonly loadAverage: number[];
}

interface RunSpec {
  readonly name: string;
  readonly api: ApiProcess;
  readonly route: string;
  readonly seconds: number;
  readonly connections: number;
  readonly requestsPerSecond?: number;
  readonly request?: autocannon.Request;
  readonly token?: string;
}

async function run(spec: RunSpec): Promise<RunFigures> {
  const cpuBefore = await spec.api.cpuSeconds();
  const result = await autocannon({
    url: `${spec.api.url}${spec.route}`,
    connections: spec.connections,
    duration: spec.seconds,
    ...(spec.requestsPerSecond ? { overallRate: spec.requestsPerSecond } : {}),
    headers: { authorization: `Bearer ${spec.token ?? API_KEY}` },
    ...(spec.request ? { requests: [spec.request] } : {}),
    timeout: 30,
  });
  const cpu = (await spec.api.cpuSeconds()) - cpuBefore;
  return {
    name: spec.name,
    route: spec.route,
    connections: spec.connections,
    offeredRequestsPerSecond: spec.requestsPerSecond,
    seconds: result.duration,
    responses2xx: result['2xx'],
    requestsPerSecond: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    apiCpuSeconds: cpu,
    apiCpuShare: cpu / result.duration,
    loadAverage: loadAverages(),
  };
}

interface IngestionFigures extends RunFigures {
  readonly batch: number;
  /** Acknowledged as accepted per second of the run. */
  readonly measurementsPerSecond: number;
  /** Rows stored per second of the run (acknowledged or not yet when it stopped). */
  readonly storedPerSecond: number;
  readonly batchesSent: number;
  readonly acceptedAcknowledged: number;
  readonly duplicatesAcknowledged: number;
  /** Rows stored for the device right after the run, before any re-send. */
  readonly rowsAfterRun: number;
  /** Batches without a 200 answer when the run stopped (in flight, or refused). */
  readonly batchesUnanswered: number;
  readonly resent: { readonly batches: number; readonly accepted: number; readonly duplicates: number };
  /** Rows stored for the device at the end. */
  readonly rowsFinal: number;
  /**
   * No row lost or stored twice: right after the run, rows == accepted acknowledgements + the rows of
   * unanswered batches that the server had stored (a re-send reports them as duplicates); at the end, rows ==
   * every measurement id built, each re-sent batch came back whole, and the run itself saw no duplicates.
   */
  readonly exact: boolean;
  readonly statuses: Record<string, number>;
}

async function countRows(databaseUrl: string, deviceId: string): Promise<number> {
  const storage = await openStorage(databaseUrl);
  try {
    const c = await storage.measurements.countRows(deviceId);
    return c.blocks + c.architectures;
  } finally {
    await storage.close();
  }
}

async function ingest(
  api: ApiProcess,
  databaseUrl: string,
  name: string,
  flags: Flags,
  measurementsPerSecond: number | undefined,
  seconds: number,
): Promise<IngestionFigures> {
  const device = await registerDevice(api, `bench-load-${name}-${randomUUID().slice(0, 8)}`);
  const route = `/v1/devices/${device.id}/measurements`;
  const sigs = spaceSignatures(PROXY_28);
  const tag = randomUUID().slice(0, 8);
  let next = 0;
  /** Built bodies without a 200 answer yet, by batch number. */
  const unanswered = new Map<number, string>();
  let accepted = 0;
  let duplicates = 0;
  const statuses: Record<string, number> = {};
  const body = (n: number): string => {
    const measuredAt = new Date().toISOString();
    const blocks = Array.from({ length: flags.batch }, (_, i) =>
      blockRow(sigs[(n * flags.batch + i) % sigs.length], `${tag}-${n}-${i}`, (i % 7) / 100, measuredAt),
    );
    return JSON.stringify({ blocks });
  };
  const request: autocannon.Request = {
    method: 'POST',
    path: route,
    headers: { authorization: `Bearer ${device.token}`, 'content-type': 'application/json' },
    // One connection has one request in flight (no pipelining): its context names the batch it carries.
    setupRequest: (req, context) => {
      const n = next++;
      const text = body(n);
      unanswered.set(n, text);
      (context as { batch?: number }).batch = n;
      return { ...req, body: text };
    },
    onResponse: (status, text, context) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      const n = (context as { batch?: number }).batch;
      if (status !== 200 || n === undefined) return;
      const r = JSON.parse(text) as { accepted: number; duplicates: number };
      accepted += r.accepted;
      duplicates += r.duplicates;
      unanswered.delete(n);
    },
  };
  const figures = await run({
    name,
    api,
    route: '/v1/devices/:id/measurements',
    seconds,
    connections: flags.connections,
    requestsPerSecond: measurementsPerSecond ? measurementsPerSecond / flags.batch : undefined,
    request,
    token: device.token,
  });
  const rowsAfterRun = await countRows(databaseUrl, device.id);
  const batchesUnanswered = unanswered.size;
  const resent = { batches: 0, accepted: 0, duplicates: 0 };
  let whole = true;
  for (const text of unanswered.values()) {
    const r = await http<{ accepted: number; duplicates: number }>(
      api.url,
      'POST',
      route,
      text,
      device.token,
    );
    if (r.status !== 200) throw new Error(`re-sending a batch answered ${r.status}`);
    resent.batches++;
    resent.accepted += r.body.accepted;
    resent.duplicates += r.body.duplicates;
    if (r.body.accepted + r.body.duplicates !== flags.batch) whole = false;
  }
  const rowsFinal = await countRows(databaseUrl, device.id);
  return {
    ...figures,
    route: '/v1/devices/:id/measurements',
    batch: flags.batch,
    measurementsPerSecond: accepted / figures.seconds,
    storedPerSecond: rowsAfterRun / figures.seconds,
    batchesSent: next,
    acceptedAcknowledged: accepted,
    duplicatesAcknowledged: duplicates,
    rowsAfterRun,
    batchesUnanswered,
    resent,
    rowsFinal,
    exact:
      whole &&
      duplicates === 0 &&
      rowsAfterRun === accepted + resent.duplicates &&
      rowsFinal === next * flags.batch,
    statuses,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Jobs

interface JobListRow {
  readonly id: string;
  readonly status: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly error?: string | null;
}

async function lutDevice(api: ApiProcess): Promise<string> {
  const device = await registerDevice(api, `bench-load-jobs-${randomUUID().slice(0, 8)}`);
  const measuredAt = new Date().toISOString();
  const blocks = spaceSignatures(PROXY_28).map((sig) => blockRow(sig, randomUUID(), 0, measuredAt));
  const res = await http(api.url, 'POST', `/v1/devices/${device.id}/measurements`, { blocks }, device.token);
  if (res.status !== 200) throw new Error(`LUT upload answered ${res.status}`);
  return device.id;
}

function tinyJob(deviceId: string, seed: number, candidates: number): Record<string, unknown> {
  return {
    deviceIds: [deviceId],
    // synthetic LUT latencies are well under a millisecond: every candidate fits
    latencyBudgetMs: 1000,
    space: PROXY_28.name,
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      steps: 4,
      batchSize: 16,
      resolution: 28,
    },
    budget: { generations: 1, population: 2, maxTrainedCandidates: candidates, wallClockSeconds: 600 },
    strategy: 'nsga2',
    seed,
    evaluation: { mode: 'standalone', baselines: false },
  };
}

async function submitJobs(
  api: ApiProcess,
  deviceId: string,
  count: number,
  seed0: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await http<{ id: string }>(api.url, 'POST', '/v1/jobs', tinyJob(deviceId, seed0 + i, 2));
    if (res.status !== 202)
      throw new Error(`job submission answered ${res.status}: ${JSON.stringify(res.body)}`);
    ids.push(res.body.id);
  }
  return ids;
}

async function jobRows(api: ApiProcess, ids: readonly string[]): Promise<JobListRow[]> {
  const res = await http<JobListRow[]>(api.url, 'GET', '/v1/jobs?limit=1000', undefined);
  const wanted = new Set(ids);
  return res.body.filter((j) => wanted.has(j.id));
}

const countBy = (rows: readonly JobListRow[]) =>
  rows.reduce<Record<string, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});

interface JobsFigures {
  readonly jobs: number;
  readonly trainingConcurrency: number;
  /** At --read-rate requests/s: GET /v1/jobs, then GET /v1/health (empty with --read-rate 0). */
  readonly rated: RunFigures[];
  readonly listRun: RunFigures;
  readonly healthRun: RunFigures;
  readonly statusesBeforeList: Record<string, number>;
  readonly statusesAfterHealth: Record<string, number>;
  readonly completed: number;
  readonly failed: string[];
  readonly allCompleted: boolean;
  readonly submitToLastDoneSeconds: number;
  readonly jobWallSeconds: { readonly min: number; readonly median: number; readonly max: number };
  readonly workerCpuSeconds: number;
}

async function jobsPart(
  api: ApiProcess,
  stack: { temporalAddress: string; databaseUrl: string; dataDir: string; dir: string },
  flags: Flags,
): Promise<JobsFigures> {
  const deviceId = await lutDevice(api);
  const worker = await startWorker(
    stack,
    'light,training',
    flags.trainingConcurrency,
    path.join(stack.dir, 'worker-jobs.log'),
  );
  try {
    const workerCpu0 = processCpuSeconds(worker.pid);
    const submitted = Date.now();
    const ids = await submitJobs(api, deviceId, flags.jobs, 1000);
    const statusesBeforeList = countBy(await jobRows(api, ids));
    const rated: RunFigures[] = [];
    if (flags.readRate > 0) {
      for (const [name, route] of [
        [`jobs list at ${flags.readRate}/s during jobs`, '/v1/jobs'],
        [`health at ${flags.readRate}/s (baseline)`, '/v1/health'],
      ]) {
        rated.push(
          await run({
            name,
            api,
            route,
            seconds: route === '/v1/jobs' ? flags.jobsLoad : flags.baseline,
            connections: flags.readConnections,
            requestsPerSecond: flags.readRate,
          }),
        );
      }
    }
    const listRun = await run({
      name: 'jobs list saturated during jobs',
      api,
      route: '/v1/jobs',
      seconds: flags.jobsLoad,
      connections: flags.readConnections,
    });
    const healthRun = await run({
      name: 'health saturated (baseline)',
      api,
      route: '/v1/health',
      seconds: flags.baseline,
      connections: flags.readConnections,
    });
    const statusesAfterHealth = countBy(await jobRows(api, ids));
    const deadline = submitted + flags.jobsTimeout * 1000;
    let rows = await jobRows(api, ids);
    while (rows.some((r) => !TERMINAL.has(r.status)) && Date.now() < deadline) {
      await sleep(1000);
      rows = await jobRows(api, ids);
    }
    const lastDone = Date.now();
    const walls = rows
      .filter((r) => r.status === 'completed')
      .map((r) => (Date.parse(r.updatedAt) - Date.parse(r.createdAt)) / 1000)
      .sort((a, b) => a - b);
    const completed = walls.length;
    return {
      jobs: flags.jobs,
      trainingConcurrency: flags.trainingConcurrency,
      rated,
      listRun,
      healthRun,
      statusesBeforeList,
      statusesAfterHealth,
      completed,
      failed: rows
        .filter((r) => r.status !== 'completed')
        .map((r) => `${r.id}: ${r.status} ${r.error ?? ''}`),
      allCompleted: completed === flags.jobs,
      submitToLastDoneSeconds: (lastDone - submitted) / 1000,
      jobWallSeconds: {
        min: walls[0] ?? NaN,
        median: walls[Math.floor(walls.length / 2)] ?? NaN,
        max: walls[walls.length - 1] ?? NaN,
      },
      workerCpuSeconds: processCpuSeconds(worker.pid) - workerCpu0,
    };
  } finally {
    await worker.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Scale: trained candidates per hour, one training worker vs two

interface ScaleFigures {
  readonly workers: number;
  readonly seconds: number;
  readonly trainedCandidates: number;
  readonly candidatesPerHour: number;
  readonly workerCpuSeconds: number;
  readonly loadAverage: number[];
}

async function trainedCandidates(databaseUrl: string, jobIds: readonly string[]): Promise<number> {
  const storage = await openStorage(databaseUrl);
  try {
    let n = 0;
    for (const id of jobIds) n += await storage.candidates.count(id, 'trained');
    return n;
  } finally {
    await storage.close();
  }
}

async function scalePart(
  api: ApiProcess,
  stack: { temporalAddress: string; databaseUrl: string; dataDir: string; dir: string },
  workers: number,
  flags: Flags,
): Promise<ScaleFigures> {
  const deviceId = await lutDevice(api);
  // one worker serves the light queue (workflows, pricing, export); `workers` serve the training queue
  const light = await startWorker(
    stack,
    'light',
    1,
    path.join(stack.dir, `worker-scale${workers}-light.log`),
  );
  const trainers: Worker[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      trainers.push(
        await startWorker(
          stack,
          'training',
          flags.trainingConcurrency,
          path.join(stack.dir, `worker-scale${workers}-${i}.log`),
        ),
      );
    }
    const cpu0 = trainers.reduce((s, w) => s + processCpuSeconds(w.pid), 0);
    // enough queued work that the training queue never runs dry during the window
    const ids: string[] = [];
    for (let i = 0; i < 4 * workers; i++) {
      const res = await http<{ id: string }>(api.url, 'POST', '/v1/jobs', {
        ...tinyJob(deviceId, 5000 + workers * 100 + i, 1000),
        budget: { generations: 1000, population: 4, maxTrainedCandidates: 1000, wallClockSeconds: 3600 },
      });
      if (res.status !== 202) throw new Error(`job submission answered ${res.status}`);
      ids.push(res.body.id);
    }
    // the window starts at the first trained candidate: workers started, workflows past their first pricing
    let before = 0;
    const warmupDeadline = Date.now() + 300_000;
    while ((before = await trainedCandidates(stack.databaseUrl, ids)) === 0 && Date.now() < warmupDeadline) {
      await sleep(250);
    }
    const started = Date.now();
    await sleep(flags.scale * 1000);
    const trained = (await trainedCandidates(stack.databaseUrl, ids)) - before;
    const seconds = (Date.now() - started) / 1000;
    const cpu = trainers.reduce((s, w) => s + processCpuSeconds(w.pid), 0) - cpu0;
    for (const id of ids) await http(api.url, 'POST', `/v1/jobs/${id}/cancel`, undefined);
    return {
      workers,
      seconds,
      trainedCandidates: trained,
      candidatesPerHour: (trained / seconds) * 3600,
      workerCpuSeconds: cpu,
      loadAverage: loadAverages(),
    };
  } finally {
    for (const w of trainers) await w.stop();
    await light.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------

function table(rows: readonly RunFigures[]): void {
  console.log(
    '\n  run                                    conn  offered/s   2xx/s    p50 ms   p90 ms   p99 ms   max ms  err non2xx  API CPU s (share)',
  );
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(38)} ${String(r.connections).padStart(4)}  ${(r.offeredRequestsPerSecond === undefined ? 'max' : f1(r.offeredRequestsPerSecond)).padStart(9)}` +
        `  ${f1(r.requestsPerSecond).padStart(7)}  ${f2(r.p50Ms).padStart(7)}  ${f2(r.p90Ms).padStart(7)}  ${f2(r.p99Ms).padStart(7)}` +
        `  ${f2(r.maxMs).padStart(7)}  ${String(r.errors).padStart(3)} ${String(r.non2xx).padStart(6)}` +
        `  ${f1(r.apiCpuSeconds).padStart(6)} (${f2(r.apiCpuShare)})`,
    );
  }
}

function ingestionLines(r: IngestionFigures): void {
  console.log(
    `  ${r.name}: ${f1(r.measurementsPerSecond)} measurements/s acknowledged, ${f1(r.storedPerSecond)} stored ` +
      `(${r.batch} per batch), ${r.batchesSent} batches built, ` +
      `${r.acceptedAcknowledged} rows acknowledged as accepted (${r.duplicatesAcknowledged} duplicates), ` +
      `${r.rowsAfterRun} rows in the database after the run; ${r.batchesUnanswered} batch(es) unanswered at the stop, ` +
      `re-sent: ${r.resent.accepted} accepted + ${r.resent.duplicates} duplicates; final rows ${r.rowsFinal} of ${r.batchesSent * r.batch} ids built ` +
      `(${r.exact ? 'exact: every acknowledged row stored once, unanswered ones stored or not, never twice' : 'MISMATCH: rows lost or stored twice'}); ` +
      `statuses ${JSON.stringify(r.statuses)}`,
  );
}

async function main(): Promise<void> {
  const program = new Command()
    .option('--duration <s>', 'sustained ingestion seconds (0: skip ingestion)', int(0, 3600), 60)
    .option(
      '--rate <n>',
      'offered measurements/s in the sustained run (0: no limit)',
      int(0, 1_000_000),
      2000,
    )
    .option(
      '--batch <n>',
      'measurements per upload (the device agent uploads this many)',
      int(1, 1000),
      DEFAULT_SYNC_BATCH,
    )
    .option('--connections <n>', 'upload connections (devices uploading at once)', int(1, 1000), 4)
    .option('--saturation <s>', 'saturated ingestion seconds (0: skip)', int(0, 3600), 20)
    .option('--baseline <s>', 'seconds of each GET /v1/health baseline', int(1, 600), 10)
    .option('--jobs <n>', 'tiny NAS jobs at once (0: skip)', int(0, 200), 20)
    .option('--jobs-load <s>', 'seconds of GET /v1/jobs while they run', int(1, 600), 30)
    .option(
      '--jobs-timeout <s>',
      'all jobs must finish within this many seconds of submission',
      int(10, 7200),
      900,
    )
    .option('--read-connections <n>', 'connections for GET /v1/jobs and its baseline', int(1, 1000), 10)
    .option(
      '--read-rate <n>',
      'offered GET requests/s of the rated reads during jobs (0: saturated only)',
      int(0, 100_000),
      50,
    )
    .option(
      '--training-concurrency <n>',
      "worker's trainings at once",
      int(1, 64),
      Math.max(1, os.cpus().length - 1),
    )
    .option(
      '--scale <s>',
      'seconds per worker count (1, then 2) of the training-throughput part (0: skip)',
      int(0, 7200),
      0,
    )
    .option(
      '--database-url <url>',
      'sqlite:<file> or a scratch postgres:// database (default: DATABASE_URL, else a temp SQLite file)',
    )
    .option('--log-level <level>', "the API's request log level (production: info)", 'info')
    .option('--cpu-prof <dir>', "write the API process's V8 CPU profile there")
    .option('--out <file>', 'JSON report', '.edgenas/bench-load/report.json')
    .parse();
  const flags = program.opts<Flags>();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgenas-bench-load-'));
  const databaseUrl =
    flags.databaseUrl ?? process.env.DATABASE_URL ?? `sqlite:${path.join(dir, 'edgenas.db')}`;
  const dataDir = path.join(dir, 'data');
  const started = Date.now();
  const loadAtStart = loadAverages();
  console.log(
    `bench:load on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, node ${process.version}, ` +
      `load average ${loadAtStart.join(' ')}; database ${databaseUrl.startsWith('sqlite:') ? 'SQLite file' : 'PostgreSQL'}; ` +
      `logs in ${dir}`,
  );
  const temporal = await startTemporal(dir);
  let api: ApiProcess | undefined;
  const report: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAtStart },
    database: databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres',
    flags: { ...flags, databaseUrl: undefined },
  };
  try {
    api = await startApi(
      { databaseUrl, apiKey: API_KEY, temporalAddress: temporal.address, dataDir, logLevel: flags.logLevel },
      path.join(dir, 'api.log'),
      flags.cpuProf,
    );
    const stack = { temporalAddress: temporal.address, databaseUrl, dataDir, dir };
    const rows: RunFigures[] = [];

    if (flags.duration > 0) {
      console.log(`\n1. measurement ingestion, ${flags.batch} per batch, ${flags.connections} connections`);
      const perSecond = flags.rate > 0 ? flags.rate : undefined;
      const sustained = await ingest(api, databaseUrl, 'uploads sustained', flags, perSecond, flags.duration);
      const sustainedBaseline = await run({
        name: 'health, same rate (baseline)',
        api,
        route: '/v1/health',
        seconds: flags.baseline,
        connections: flags.connections,
        requestsPerSecond: sustained.offeredRequestsPerSecond,
      });
      rows.push(sustained, sustainedBaseline);
      const saturated =
        flags.saturation > 0
          ? await ingest(api, databaseUrl, 'uploads saturated', flags, undefined, flags.saturation)
          : undefined;
      const saturatedBaseline =
        flags.saturation > 0
          ? await run({
              name: 'health saturated (baseline)',
              api,
              route: '/v1/health',
              seconds: flags.baseline,
              connections: flags.connections,
            })
          : undefined;
      if (saturated && saturatedBaseline) rows.push(saturated, saturatedBaseline);
      table(rows);
      ingestionLines(sustained);
      if (saturated) ingestionLines(saturated);
      console.log(
        `  p99 uploads / p99 health at the same rate: ${f1(sustained.p99Ms / sustainedBaseline.p99Ms)}×` +
          (saturated && saturatedBaseline
            ? `; saturated: ${f1(saturated.p99Ms / saturatedBaseline.p99Ms)}×, requests/s ${f2(saturated.requestsPerSecond / saturatedBaseline.requestsPerSecond)}× of health`
            : ''),
      );
      console.log(
        // stored, not acknowledged: the batches in flight at the stop were taken in and are counted (see above)
        `  targets: ≥ 2000 measurements/s sustained: ${sustained.storedPerSecond >= 2000 ? 'met' : 'NOT met'} ` +
          `(${f1(sustained.storedPerSecond)} stored/s at ${flags.rate || 'unlimited'} offered); ` +
          `p99 < 50 ms: ${sustained.p99Ms < 50 ? 'met' : 'NOT met'} (${f2(sustained.p99Ms)} ms)`,
      );
      report.ingestion = { sustained, sustainedBaseline, saturated, saturatedBaseline };
    }

    if (flags.jobs > 0) {
      console.log(
        `\n2. ${flags.jobs} tiny jobs (1 generation, 2 candidates trained each), one worker with ${flags.trainingConcurrency} training process(es)`,
      );
      const jobs = await jobsPart(api, stack, flags);
      table([...jobs.rated, jobs.listRun, jobs.healthRun]);
      console.log(
        `  job statuses when GET /v1/jobs started ${JSON.stringify(jobs.statusesBeforeList)}, after the baseline ` +
          `${JSON.stringify(jobs.statusesAfterHealth)}; p99 jobs list / p99 health: ` +
          (jobs.rated.length === 2
            ? `${f1(jobs.rated[0].p99Ms / jobs.rated[1].p99Ms)}× at ${flags.readRate}/s, `
            : '') +
          `${f1(jobs.listRun.p99Ms / jobs.healthRun.p99Ms)}× saturated`,
      );
      console.log(
        `  ${jobs.completed}/${jobs.jobs} completed; submission to last done ${f1(jobs.submitToLastDoneSeconds)} s; ` +
          `per job ${f1(jobs.jobWallSeconds.min)} / ${f1(jobs.jobWallSeconds.median)} / ${f1(jobs.jobWallSeconds.max)} s ` +
          `(min / median / max); worker CPU incl. training processes ${f1(jobs.workerCpuSeconds)} s` +
          (jobs.failed.length ? `; not completed: ${jobs.failed.join('; ')}` : ''),
      );
      console.log(
        `  targets: GET /v1/jobs p99 < 100 ms: ` +
          [...jobs.rated.slice(0, 1), jobs.listRun]
            .map(
              (r) =>
                `${r.p99Ms < 100 ? 'met' : 'NOT met'} ${r.offeredRequestsPerSecond === undefined ? 'saturated' : `at ${r.offeredRequestsPerSecond}/s`} (${f2(r.p99Ms)} ms)`,
            )
            .join(', ') +
          '; ' +
          `all jobs completed: ${jobs.allCompleted ? 'yes' : 'NO'}`,
      );
      report.jobs = jobs;
    }

    if (flags.scale > 0) {
      console.log(
        `\n3. training throughput: ${flags.scale} s with 1 then 2 training workers (${flags.trainingConcurrency} training process(es) each), ${os.cpus().length} CPUs`,
      );
      const one = await scalePart(api, stack, 1, flags);
      const two = await scalePart(api, stack, 2, flags);
      for (const s of [one, two]) {
        console.log(
          `  ${s.workers} worker(s): ${s.trainedCandidates} candidates trained in ${f1(s.seconds)} s = ` +
            `${f1(s.candidatesPerHour)} per hour; workers' CPU ${f1(s.workerCpuSeconds)} s; load ${s.loadAverage.join(' ')}`,
        );
      }
      const ratio = two.candidatesPerHour / one.candidatesPerHour;
      console.log(`  two / one: ${f2(ratio)}× (target ≥ 1.8×: ${ratio >= 1.8 ? 'met' : 'NOT met'})`);
      report.scale = { one, two, ratio };
    }
  } finally {
    await api?.stop();
    await temporal.stop();
  }
  report.wallSeconds = (Date.now() - started) / 1000;
  report.benchCpuSeconds = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  report.loadAtEnd = loadAverages();
  const out = path.resolve(flags.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  console.log(
    `\nwall ${f1((Date.now() - started) / 1000)} s; load average at the end ${loadAverages().join(' ')}; report ${out}`,
  );
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
