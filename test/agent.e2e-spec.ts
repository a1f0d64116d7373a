/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * Device agent end to end: the agent's CLI (in this process) ↔ the real API over HTTP on a SQLite file ↔ real
 * ONNX Runtime benchmarks. Short rounds and the small proxy geometry keep it quick; the numbers need to be
 * real, not precise.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockMeasurement, CALIBRATION_SET_SIZE, spaceSignatures } from '@edgenas/latency-predictor';
import { NasJobInput } from '@edgenas/contracts';
import {
  FBNET_224,
  PROXY_28,
  createRng,
  formatArchitecture,
  sampleArchitecture,
  signatureKey,
  stemSignature,
} from '@edgenas/search-space';
import { openStorage } from '@edgenas/storage';
import { main } from '../apps/agent/src/cli';
import { AgentStore } from '../apps/agent/src/store';
import { ApiTestContext, USER_KEY, auth, startApiForTest } from './support/api-fixtures';
import { spawnTypeScript } from './support/ts-process';

const PORT_ONLINE = 3201;
const PORT_LATE = 3202;

/** Few, short rounds: enough for real numbers in a few seconds. */
const QUICK = ['--rounds', '2', '--repeats', '2', '--warmup', '1', '--round-ms', '1'];

/** One pass of the agent `agent-e2e` on proxy-28 against the API on PORT_ONLINE. */
function onlineRunArgs(stateDir: string): string[] {
  const url = `http://127.0.0.1:${PORT_ONLINE}`;
  return [
    'run',
    '--once',
    '--space',
    'proxy-28',
    '--api',
    url,
    '--name',
    'agent-e2e',
    '--state-dir',
    stateDir,
  ];
}

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

async function cli(args: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  if (process.env.AGENT_E2E_DEBUG) console.log(args.join(' '), code, out, err);
  return { code, out, err };
}

async function serverRows(api: ApiTestContext, deviceId: string) {
  const storage = await openStorage(api.databaseUrl);
  try {
    return await storage.measurements.countRows(deviceId);
  } finally {
    await storage.close();
  }
}

function localDevice(stateDir: string) {
  const store = AgentStore.open(stateDir);
  try {
    return { device: store.device(), counts: store.counts() };
  } finally {
    store.close();
  }
}

const proxySignatures = spaceSignatures(PROXY_28);

describe('device agent ↔ API ↔ ONNX Runtime (real app over HTTP, real SQLite, real ORT)', () => {
  let dir: string;
  let api: ApiTestContext | undefined;
  let lateApi: ApiTestContext | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-agent-e2e-'));
  });
  afterAll(async () => {
    await api?.close();
    await lateApi?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers, runs once, fills the LUT of the requested space to 100 % and measures its calibration set; a second pass adds nothing', async () => {
    api = await startApiForTest(PORT_ONLINE);
    const stateDir = join(dir, 'online');
    const args = onlineRunArgs(stateDir);

    const before = await cli([...args, ...QUICK]);
    expect(before.err.join('\n')).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    expect(before.code).toBe(2);
    expect(before.err.join('\n')).toMatch(/not registered yet: pass --api-key/);

    const first = await cli([...args, '--api-key', USER_KEY, ...QUICK]);
    expect(first.code).toBe(0);
    expect(first.out.join('\n')).toMatch(
      new RegExp(
        `online: measured ${proxySignatures.length} block\\(s\\), ${CALIBRATION_SET_SIZE} architecture\\(s\\) ` +
          `\\(${CALIBRATION_SET_SIZE} for calibration\\)`,
      ),
    );
    const { device, counts } = localDevice(stateDir);
    expect(device).toBeDefined();
    expect(device!.profile.runtime).toMatchObject({
      engine: 'onnxruntime-node',
      executionProvider: 'cpu',
      threads: 1,
    });
    expect(counts).toEqual({
      pending: 0,
      synced: proxySignatures.length + CALIBRATION_SET_SIZE,
      rejected: 0,
    });

    const lut = await api
      .http()
      .get(`/v1/devices/${device!.id}/lut?space=proxy-28`)
      .set(...auth(USER_KEY));
    expect(lut.status).toBe(200);
    expect(lut.body.coverage).toMatchObject({
      covered: proxySignatures.length,
      total: proxySignatures.length,
      ratio: 1,
    });
    const entries = lut.body.entries as { key: string; estimateMs: number; overheadMs: number }[];
    expect(new Set(entries.map((e) => e.key))).toEqual(new Set(proxySignatures.map(signatureKey)));
    for (const e of entries) {
      expect(e.estimateMs).toBeGreaterThan(0);
      expect(e.overheadMs).toBeGreaterThan(0);
    }
    // Isolated blocks cost more than the null model of the same input/output size, typically.
    const above = entries.filter((e) => e.estimateMs > e.overheadMs).length;
    expect(above / entries.length).toBeGreaterThan(0.7);
    const rows = { blocks: proxySignatures.length, architectures: CALIBRATION_SET_SIZE };
    expect(await serverRows(api, device!.id)).toEqual(rows);

    const second = await cli([...args, ...QUICK]);
    expect(second.code).toBe(0);
    expect(second.out.join('\n')).toMatch(/online: measured 0 block\(s\), 0 architecture/);
    expect(await serverRows(api, device!.id)).toEqual(rows);

    const status = await cli([
      'status',
      '--name',
      'agent-e2e',
      '--state-dir',
      stateDir,
      '--space',
      'proxy-28',
    ]);
    expect(status.code).toBe(0);
    expect(status.out.join('\n')).toMatch(
      new RegExp(`lut: +proxy-28 ${proxySignatures.length}/${proxySignatures.length}`),
    );
  });

  it('keeps running pass after pass without MaxListenersExceededWarning (the agent as its own process)', async () => {
    // Node prints the warning from the 11th listener on one emitter: a dozen passes would show a per-pass leak.
    const PASSES = 12;
    const child = spawnTypeScript(
      'apps/agent/src/main.ts',
      [...onlineRunArgs(join(dir, 'online')).filter((a) => a !== '--once'), '--interval', '1', ...QUICK],
      { env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolvePasses, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if ((output.match(/^online: /gm) ?? []).length >= PASSES) resolvePasses();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void exited.then((code) => reject(new Error(`the agent exited (${code}) early:\n${output}`)));
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toMatch(/Warning/);
    expect(output).toMatch(/online: measured 0 block\(s\), 0 architecture/);
  }, 120_000);

  it('has a calibration from its calibration set before any job: predictions say calibrated, with the version, and repeat exactly', async () => {
    const { device } = localDevice(join(dir, 'online'));
    const lut = await api!
      .http()
      .get(`/v1/devices/${device!.id}/lut?space=proxy-28`)
      .set(...auth(USER_KEY));
    expect(lut.body.calibrationSetMeasured).toBe(CALIBRATION_SET_SIZE);
    expect(lut.body.referenceNetworks).toHaveLength(5);
    expect(lut.body.calibration.samples).toBeGreaterThanOrEqual(CALIBRATION_SET_SIZE);

    const storage = await openStorage(api!.databaseUrl);
    try {
      const archRows = await storage.measurements.listArchitectureMeasurements(device!.id, PROXY_28.name);
      expect(archRows.filter((r) => r.purpose === 'calibration')).toHaveLength(CALIBRATION_SET_SIZE);
    } finally {
      await storage.close();
    }

    const architecture = formatArchitecture(sampleArchitecture(PROXY_28, createRng(11)), PROXY_28);
    const predict = () =>
      api!
        .http()
        .post('/v1/latency/predict')
        .set(...auth(USER_KEY))
        .send({ deviceId: device!.id, space: 'proxy-28', architecture });
    const a = await predict();
    expect(a.status).toBe(200);
    expect(a.body.calibrated).toBe(true);
    expect(a.body.lutVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(a.body.calibration).toMatchObject({
      version: expect.stringMatching(/^[0-9a-f]{16}$/),
      samples: CALIBRATION_SET_SIZE,
      driftScale: 1,
      stale: false,
      staleReason: null,
    });
    const b = await predict();
    expect(b.body.latencyMs).toBe(a.body.latencyMs);
    expect(b.body.calibration.version).toBe(a.body.calibration.version);
    expect(b.body.lutVersion).toBe(a.body.lutVersion);
  });

  it('answers a verification request with an end-to-end measurement of the architecture', async () => {
    const stateDir = join(dir, 'online');
    const { device } = localDevice(stateDir);
    const arch = sampleArchitecture(PROXY_28, createRng(7));
    const storage = await openStorage(api!.databaseUrl);
    const verificationId = randomUUID();
    try {
      const jobId = randomUUID();
      // A finished job (so it adds no geometry to the work list) that asked for one verification.
      await storage.jobs.create(
        { jobId, deviceIds: [device!.id], space: 'proxy-28' } as unknown as NasJobInput,
        'completed',
      );
      await storage.verifications.create({
        id: verificationId,
        deviceId: device!.id,
        jobId,
        space: PROXY_28.name,
        architecture: formatArchitecture(arch),
      });
    } finally {
      await storage.close();
    }
    const res = await cli([...onlineRunArgs(stateDir), ...QUICK]);
    expect(res.code).toBe(0);
    expect(res.out.join('\n')).toMatch(/measured 0 block\(s\), 1 architecture\(s\);/);
    expect(await serverRows(api!, device!.id)).toEqual({
      blocks: proxySignatures.length,
      architectures: CALIBRATION_SET_SIZE + 1,
    });
    const check = await openStorage(api!.databaseUrl);
    try {
      const v = await check.verifications.get(verificationId);
      expect(v?.status).toBe('completed');
    } finally {
      await check.close();
    }
  });

  it('isolates a row the server refuses: the rest of its batch is stored, that row is kept as rejected', async () => {
    const stateDir = join(dir, 'online');
    const store = AgentStore.open(stateDir);
    const deviceId = store.device()!.id;
    const before = await serverRows(api!, deviceId);
    const template = store.pending(1)[0] ?? undefined;
    expect(template).toBeUndefined(); // everything was synced by the previous passes
    const sig = proxySignatures[0];
    const good = (): BlockMeasurement => ({
      id: randomUUID(),
      signature: sig,
      estimateMs: 0.05,
      medianMs: 0.055,
      p10Ms: 0.05,
      p90Ms: 0.06,
      rounds: 2,
      repeatsPerRound: 2,
      warmupRuns: 1,
      overheadMs: 0.01,
      agentVersion: 'e2e',
      measuredAt: new Date().toISOString(),
      driftFlagged: false,
    });
    const bad = { ...good(), estimateMs: -1 };
    store.add([good(), bad, good(), good()].map((body) => ({ kind: 'block' as const, body })));
    store.close();

    const res = await cli([...onlineRunArgs(stateDir), ...QUICK]);
    expect(res.code).toBe(0);
    expect(res.err.join('\n')).toMatch(/server rejected 1 measurement/);
    expect(localDevice(stateDir).counts).toMatchObject({ pending: 0, rejected: 1 });
    const after = await serverRows(api!, deviceId);
    expect(after.blocks).toBe(before.blocks + 3);
  });

  it('follows the device: a drift flag makes the calibration stale until the agent re-measured the reference networks', async () => {
    const stateDir = join(dir, 'online');
    const { device } = localDevice(stateDir);
    const architecture = formatArchitecture(sampleArchitecture(PROXY_28, createRng(11)), PROXY_28);
    const predict = () =>
      api!
        .http()
        .post('/v1/latency/predict')
        .set(...auth(USER_KEY))
        .send({ deviceId: device!.id, space: 'proxy-28', architecture });
    const before = (await predict()).body.calibration;
    expect(before).toMatchObject({ stale: false, referenceSamples: 0 });

    // The agent's drift monitor flagged a batch (here: a block of another space, uploaded as it would be).
    const storage = await openStorage(api!.databaseUrl);
    try {
      const flagged: BlockMeasurement = {
        id: randomUUID(),
        signature: stemSignature(FBNET_224),
        estimateMs: 0.5,
        medianMs: 0.55,
        p10Ms: 0.5,
        p90Ms: 0.6,
        rounds: 2,
        repeatsPerRound: 2,
        warmupRuns: 1,
        overheadMs: 0.01,
        agentVersion: 'e2e',
        measuredAt: new Date().toISOString(),
        driftFlagged: true,
      };
      await storage.measurements.insertBatch(device!.id, { blocks: [flagged] });
    } finally {
      await storage.close();
    }
    const stale = (await predict()).body;
    expect(stale.calibration).toMatchObject({
      stale: true,
      staleReason: expect.stringMatching(/flagged drift/),
    });
    expect(stale.calibration.version).toBe(before.version);

    const res = await cli([...onlineRunArgs(stateDir), ...QUICK]);
    expect(res.code).toBe(0);
    expect(res.out.join('\n')).toMatch(/measured 0 block\(s\), 5 architecture\(s\) \(5 for calibration\)/);
    const after = (await predict()).body;
    expect(after.calibration).toMatchObject({ stale: false, referenceSamples: 5, samples: before.samples });
    expect(after.calibration.version).not.toBe(before.version);
    expect(after.calibration.driftScale).toBeGreaterThan(0);
    // the refit is the base calibration times the drift scale
    expect(after.latencyMs / stale.latencyMs).toBeCloseTo(after.calibration.driftScale, 6);
  });

  it('works offline: measurements queue locally while the API is down and sync once, without duplicates, when it is up', async () => {
    const url = `http://127.0.0.1:${PORT_LATE}`;
    const stateDir = join(dir, 'offline');
    const args = [
      'run',
      '--once',
      '--space',
      'proxy-28',
      '--api',
      url,
      '--api-key',
      USER_KEY,
      '--name',
      'agent-offline',
      '--retries',
      '2',
      '--no-calibration',
    ];

    const offline = await cli([...args, '--state-dir', stateDir, ...QUICK]);
    expect(offline.code).toBe(0);
    expect(offline.err.join('\n')).toMatch(/cannot reach/);
    expect(offline.out.join('\n')).toMatch(new RegExp(`offline: measured ${proxySignatures.length} block`));
    expect(localDevice(stateDir)).toEqual({
      device: undefined,
      counts: { pending: proxySignatures.length, synced: 0, rejected: 0 },
    });

    lateApi = await startApiForTest(PORT_LATE);
    const online = await cli([...args, '--state-dir', stateDir, ...QUICK]);
    expect(online.code).toBe(0);
    expect(online.out.join('\n')).toMatch(
      new RegExp(
        `online: measured 0 block\\(s\\), 0 architecture\\(s\\); uploaded ${proxySignatures.length} \\(0 already`,
      ),
    );
    const { device, counts } = localDevice(stateDir);
    expect(counts).toEqual({ pending: 0, synced: proxySignatures.length, rejected: 0 });
    expect(await serverRows(lateApi, device!.id)).toEqual({
      blocks: proxySignatures.length,
      architectures: 0,
    });
    const lut = await lateApi
      .http()
      .get(`/v1/devices/${device!.id}/lut?space=proxy-28`)
      .set(...auth(USER_KEY));
    expect(lut.body.coverage.ratio).toBe(1);

    // A sync whose answer was lost: the same rows go up again and the server keeps one copy of each.
    const db = new Database(join(stateDir, 'agent.db'));
    db.prepare('UPDATE measurements SET synced_at = NULL').run();
    db.close();
    const resend = await cli([...args, '--state-dir', stateDir, ...QUICK]);
    expect(resend.code).toBe(0);
    expect(resend.out.join('\n')).toMatch(
      new RegExp(`uploaded 0 \\(${proxySignatures.length} already on the server\\)`),
    );
    expect(await serverRows(lateApi, device!.id)).toEqual({
      blocks: proxySignatures.length,
      architectures: 0,
    });
  });

  it('profiles a space to a file offline and uploads it later, idempotently', async () => {
    const file = join(dir, 'lut.json');
    const space = ['--space', 'proxy-28', '--input', '16x16x1', '--classes', '4'];
    const profiled = await cli(['profile', ...space, '--out', file, '--name', 'agent-file', ...QUICK]);
    expect(profiled.code).toBe(0);
    const sigs = spaceSignatures({ ...PROXY_28, input: { height: 16, width: 16, channels: 1 }, classes: 4 });
    expect(profiled.out.join('\n')).toMatch(new RegExp(`wrote ${sigs.length} measurements`));

    const url = `http://127.0.0.1:${PORT_ONLINE}`;
    const stateDir = join(dir, 'uploader');
    const upload = ['upload', file, '--api', url, '--api-key', USER_KEY, '--state-dir', stateDir];
    const first = await cli(upload);
    expect(first.code).toBe(0);
    expect(first.out.join('\n')).toMatch(new RegExp(`${sigs.length} accepted, 0 already on the server`));
    const { device } = localDevice(stateDir);
    expect(device?.name).toBe('agent-file');
    const again = await cli(upload);
    expect(again.out.join('\n')).toMatch(/0 accepted/);
    expect(await serverRows(api!, device!.id)).toEqual({ blocks: sigs.length, architectures: 0 });
    const lut = await api!
      .http()
      .get(`/v1/devices/${device!.id}/lut?space=proxy-28&input=16x16x1&classes=4`)
      .set(...auth(USER_KEY));
    expect(lut.body.coverage).toMatchObject({ covered: sigs.length, total: sigs.length });
  });

  it('fails with clear messages, never a stack trace, on bad flags and bad files', async () => {
    const badThreads = await cli(['run', '--once', '--threads', 'two']);
    expect(badThreads.code).not.toBe(0);
    expect(badThreads.err.join('\n')).toMatch(/--threads must be an integer/);

    const badSpace = await cli(['profile', '--space', 'imagenet-9000', '--out', join(dir, 'x.json')]);
    expect(badSpace.code).toBe(1);
    expect(badSpace.err.join('\n')).toMatch(/unknown macro config "imagenet-9000"/);

    const missingFile = await cli(['upload', join(dir, 'nope.json'), '--api', 'http://127.0.0.1:3203']);
    expect(missingFile.err.join('\n')).toMatch(/cannot read .*nope\.json: ENOENT/);

    const badUrl = await cli(['run', '--once', '--api', 'localhost:3000', '--state-dir', join(dir, 'bad')]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err.join('\n')).toMatch(/--api must be an http\(s\) URL/);

    for (const r of [badThreads, badSpace, missingFile, badUrl])
      expect(r.err.join('\n')).not.toMatch(/\n\s+at /);
  });
});
