import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { Client } from 'pg';
import { BlockMeasurement, DeviceProfile, ModelCard, NasJobInput } from '@edgenas/contracts';
import { PROXY_28, stemSignature } from '@edgenas/search-space';
import {
  buildMigrations,
  DeviceNameTakenError,
  EdgeNasDatabase,
  MeasurementConflictError,
  JobRepository,
  loadDeviceRows,
  openStorage,
  parseDatabaseUrl,
  Storage,
} from './index';

const PROFILE: DeviceProfile = {
  name: 'test-cpu-1t',
  hardware: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 4e9, os: 'linux', arch: 'x64' },
  runtime: { engine: 'onnxruntime-node', engineVersion: '1.30.0', executionProvider: 'cpu', threads: 1 },
};

function block(id: string, estimateMs: number): BlockMeasurement {
  return {
    id,
    signature: stemSignature(PROXY_28),
    estimateMs,
    medianMs: estimateMs * 1.1,
    p10Ms: estimateMs,
    p90Ms: estimateMs * 1.3,
    rounds: 5,
    repeatsPerRound: 20,
    warmupRuns: 5,
    overheadMs: 0.01,
    agentVersion: '0.1.0',
    measuredAt: '2026-01-01T00:00:00.000Z',
    driftFlagged: false,
  };
}

function jobInput(jobId: string, deviceId: string): NasJobInput {
  return {
    jobId,
    deviceIds: [deviceId],
    latencyBudgetMs: 5,
    space: 'proxy-28',
    input: { height: 28, width: 28, channels: 1 },
    classes: 10,
    proxy: {
      dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
      epochs: 1,
      batchSize: 32,
      resolution: 28,
    },
    budget: { generations: 2, population: 4, maxTrainedCandidates: 8, wallClockSeconds: 60 },
    strategy: 'nsga2',
    seed: 1,
  };
}

interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

async function adminQuery(text: string): Promise<void> {
  const client = new Client({ connectionString: process.env.POSTGRES_TEST_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database on the POSTGRES_TEST_URL server (its role may create databases), so no run sees another's
 * rows or migration history. Plain DROP: it also stops autovacuum, which WITH (FORCE) may not as non-superuser.
 */
async function scratchPostgres(): Promise<ScratchDatabase> {
  const name = `edgenas_storage_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.POSTGRES_TEST_URL as string);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name}`) };
}

async function scratchSqlite(): Promise<ScratchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'edgenas-storage-'));
  return {
    url: `sqlite:${join(dir, 'sub', 'edgenas.db')}`,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

// The same behaviour on each dialect: SQLite always, PostgreSQL when POSTGRES_TEST_URL is set.
const targets: [string, () => Promise<ScratchDatabase>][] = [['sqlite file', scratchSqlite]];
if (process.env.POSTGRES_TEST_URL) targets.push(['postgres', scratchPostgres]);

describe.each(targets)('storage on %s', (_name, scratch) => {
  let database: ScratchDatabase;
  let storage: Storage;

  beforeAll(async () => {
    database = await scratch();
    storage = await openStorage(database.url);
  });
  afterAll(async () => {
    await storage?.close();
    await database?.drop();
  });

  it('migrates idempotently (a second open finds the schema current)', async () => {
    const again = await openStorage(database.url);
    expect(await again.devices.list()).toEqual([]);
    await again.close();
  });

  it('stores devices with their profile and finds them by token hash', async () => {
    await storage.devices.create({ id: 'dev-a', name: 'bench box', profile: PROFILE, tokenHash: 'hash-a' });
    // a profile without a precision is fp32, and the record says so
    expect((await storage.devices.get('dev-a'))?.profile).toEqual({ ...PROFILE, precision: 'fp32' });
    expect((await storage.devices.get('dev-a'))?.precision).toBe('fp32');
    expect(await storage.devices.findIdByTokenHash('hash-a')).toBe('dev-a');
    expect(await storage.devices.findIdByTokenHash('nope')).toBeUndefined();
    expect(await storage.devices.get('missing')).toBeUndefined();
  });

  it('keeps an int8 profile as its own precision', async () => {
    const int8 = { ...PROFILE, precision: 'int8' as const };
    await storage.devices.create({
      id: 'dev-i8',
      name: 'bench box int8',
      profile: int8,
      tokenHash: 'hash-i8',
    });
    const stored = await storage.devices.get('dev-i8');
    expect(stored?.precision).toBe('int8');
    expect(stored?.profile).toEqual(int8);
    expect((await storage.devices.getMany(['dev-i8'])).map((d) => d.precision)).toEqual(['int8']);
  });

  it('keeps API keys by hash per owner; a revocation keeps its first time and only the owner may revoke', async () => {
    const created = await storage.apiKeys.create({
      id: 'key-a',
      owner: 'owner-1',
      name: 'ci',
      secretHash: 'h-a',
    });
    await storage.apiKeys.create({ id: 'key-b', owner: 'owner-2', name: 'laptop', secretHash: 'h-b' });
    expect(created).toMatchObject({
      id: 'key-a',
      owner: 'owner-1',
      name: 'ci',
      revokedAt: null,
      lastUsedAt: null,
    });
    expect((await storage.apiKeys.findBySecretHash('h-a'))?.id).toBe('key-a');
    expect(await storage.apiKeys.findBySecretHash('nope')).toBeUndefined();
    expect((await storage.apiKeys.listByOwner('owner-1')).map((k) => k.id)).toEqual(['key-a']);
    // a second key with the same secret hash is refused by the unique index
    // (matched by message: in a jest worker the driver's error is not an Error of the test's realm)
    await expect(
      storage.apiKeys.create({ id: 'key-c', owner: 'owner-1', name: 'dup', secretHash: 'h-a' }),
    ).rejects.toHaveProperty('message', expect.stringMatching(/unique|duplicate key/i));

    expect(await storage.apiKeys.revoke('key-a', 'owner-2')).toBeUndefined();
    expect((await storage.apiKeys.get('key-a'))?.revokedAt).toBeNull();
    const revoked = await storage.apiKeys.revoke('key-a', 'owner-1');
    expect(revoked?.revokedAt).toEqual(expect.any(String));
    expect((await storage.apiKeys.revoke('key-a', 'owner-1'))?.revokedAt).toBe(revoked?.revokedAt);
    expect((await storage.apiKeys.findBySecretHash('h-a'))?.revokedAt).toBe(revoked?.revokedAt);

    const t0 = new Date('2026-05-01T00:00:00.000Z');
    await storage.apiKeys.touch('key-b', t0, 60_000);
    await storage.apiKeys.touch('key-b', new Date(t0.getTime() + 30_000), 60_000);
    expect((await storage.apiKeys.get('key-b'))?.lastUsedAt).toBe(t0.toISOString());
    const later = new Date(t0.getTime() + 61_000);
    await storage.apiKeys.touch('key-b', later, 60_000);
    expect((await storage.apiKeys.get('key-b'))?.lastUsedAt).toBe(later.toISOString());
  });

  it('inserts measurements once by id and never overwrites a raw row', async () => {
    const first = await storage.measurements.insertBatch('dev-a', {
      blocks: [block('m1', 1), block('m2', 2)],
    });
    expect(first).toMatchObject({ accepted: 2, duplicates: 0 });
    // A retried row (same id, same values), plus an in-batch repeat: nothing overwritten, one new row.
    const retry = await storage.measurements.insertBatch('dev-a', {
      blocks: [block('m1', 1), block('m3', 3), block('m3', 3)],
    });
    expect(retry).toMatchObject({ accepted: 1, duplicates: 2 });
    const rows = await storage.measurements.listBlockMeasurements('dev-a');
    expect(rows.map((r) => [r.id, r.estimateMs])).toEqual([
      ['m1', 1],
      ['m2', 2],
      ['m3', 3],
    ]);
    expect(rows[0].signature).toEqual(stemSignature(PROXY_28));
    expect(await storage.measurements.countRows('dev-a')).toEqual({ blocks: 3, architectures: 0 });
  });

  it('refuses an id re-sent with other values, stored or earlier in the batch, and stores nothing of that batch', async () => {
    const conflictOf = async (deviceId: string, blocks: BlockMeasurement[]) => {
      try {
        await storage.measurements.insertBatch(deviceId, { blocks });
      } catch (err) {
        if (err instanceof MeasurementConflictError) return err.conflicts;
        throw err;
      }
      throw new Error('expected a MeasurementConflictError');
    };
    const before = await storage.measurements.countRows();
    expect(await conflictOf('dev-a', [block('m9', 1), block('m1', 9)])).toEqual([
      {
        table: 'blocks',
        index: 1,
        id: 'm1',
        otherDevice: false,
        fields: ['estimateMs', 'medianMs', 'p10Ms', 'p90Ms'],
      },
    ]);
    expect(
      await conflictOf('dev-a', [
        block('m9', 1),
        { ...block('m9', 1), measuredAt: '2026-01-02T00:00:00.000Z' },
      ]),
    ).toEqual([{ table: 'blocks', index: 1, id: 'm9', otherDevice: false, fields: ['measuredAt'] }]);
    await storage.devices.create({ id: 'dev-c', name: 'other box', profile: PROFILE, tokenHash: 'hash-c' });
    expect(await conflictOf('dev-c', [block('m1', 1)])).toEqual([
      { table: 'blocks', index: 0, id: 'm1', otherDevice: true, fields: [] },
    ]);
    expect(await storage.measurements.countRows()).toEqual(before);
    // the same instant written another way is the same value
    const same = await storage.measurements.insertBatch('dev-a', {
      blocks: [{ ...block('m1', 1), measuredAt: '2026-01-01T00:00:00Z' }],
    });
    expect(same).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('keeps device names unique per owner; devices without an owner are not counted', async () => {
    const created = await storage.devices.create({
      id: 'dev-o1',
      name: 'local-cpu',
      profile: PROFILE,
      tokenHash: 'hash-o1',
      owner: 'owner-1',
    });
    let taken: unknown;
    try {
      await storage.devices.create({
        id: 'dev-o2',
        name: 'local-cpu',
        profile: PROFILE,
        tokenHash: 'hash-o2',
        owner: 'owner-1',
      });
    } catch (err) {
      taken = err;
    }
    expect(taken).toBeInstanceOf(DeviceNameTakenError);
    expect((taken as DeviceNameTakenError).existing).toEqual(created);
    expect(await storage.devices.get('dev-o2')).toBeUndefined();
    // another owner, or none, may use the name
    await storage.devices.create({
      id: 'dev-o3',
      name: 'local-cpu',
      profile: PROFILE,
      tokenHash: 'hash-o3',
      owner: 'owner-2',
    });
    await storage.devices.create({ id: 'dev-o4', name: 'local-cpu', profile: PROFILE, tokenHash: 'hash-o4' });
    await storage.devices.create({ id: 'dev-o5', name: 'local-cpu', profile: PROFILE, tokenHash: 'hash-o5' });
    expect(await storage.devices.findByOwnerAndName('owner-1', 'local-cpu')).toEqual(created);

    // only the owner replaces the token; the old one stops working
    expect(await storage.devices.replaceToken('dev-o1', 'owner-2', 'stolen')).toBe(false);
    expect(await storage.devices.replaceToken('dev-o4', 'owner-1', 'stolen')).toBe(false);
    expect(await storage.devices.replaceToken('dev-o1', 'owner-1', 'hash-o1b')).toBe(true);
    expect(await storage.devices.findIdByTokenHash('hash-o1')).toBeUndefined();
    expect(await storage.devices.findIdByTokenHash('hash-o1b')).toBe('dev-o1');
    expect(await storage.devices.findIdByTokenHash('stolen')).toBeUndefined();
  });

  it('rolls back the whole batch when one row fails', async () => {
    // outcome as text: jest's toThrow does not always recognise driver errors as Errors across its sandbox
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => String(e),
      );
    expect(
      await outcome(storage.measurements.insertBatch('dev-unknown', { blocks: [block('x1', 1)] })),
    ).toMatch(/foreign key/i);
    expect(
      await outcome(
        storage.measurements.insertBatch('dev-a', {
          blocks: [block('m4', 1), { ...block('m5', 1), agentVersion: null as unknown as string }],
        }),
      ),
    ).toMatch(/not.?null/i);
    expect(await storage.measurements.countRows()).toEqual({ blocks: 3, architectures: 0 });
  });

  it('keeps jobs, idempotent candidates, models and verification requests', async () => {
    const job = await storage.jobs.create(jobInput('job-1', 'dev-a'));
    expect(job.status).toBe('queued');
    expect(await storage.jobs.setStatus('job-1', 'running')).toBe(true);
    await storage.candidates.upsert({
      jobId: 'job-1',
      architectureId: 'arch-1',
      architecture: 'a',
      generation: 0,
      status: 'proposed',
      predictedLatencyMs: 3,
      predictedLatencyByDevice: { 'dev-a': 3 },
      macs: 3e9,
    });
    const trained = await storage.candidates.upsert({
      jobId: 'job-1',
      architectureId: 'arch-1',
      architecture: 'a',
      generation: 1,
      status: 'trained',
      accuracy: 0.8,
      training: { backend: 'wasm', steps: 10 },
    });
    expect(trained).toMatchObject({
      generation: 0,
      status: 'trained',
      accuracy: 0.8,
      predictedLatencyMs: 3,
      predictedLatencyByDevice: { 'dev-a': 3 },
      macs: 3e9,
      training: { backend: 'wasm', steps: 10 },
    });
    expect(await storage.candidates.count('job-1')).toBe(1);
    await storage.candidates.recordMeasuredLatency('job-1', 'arch-1', 'dev-a', 3.5);
    expect((await storage.candidates.get('job-1', 'arch-1'))?.measuredLatencyByDevice).toEqual({
      'dev-a': 3.5,
    });

    await storage.models.save('job-1', 'arch-1', new Uint8Array([1, 2, 3]), 'initialised weights');
    expect(Array.from((await storage.models.get('job-1', 'arch-1'))?.onnx ?? [])).toEqual([1, 2, 3]);
    expect(await storage.models.list('job-1')).toMatchObject([{ architectureId: 'arch-1', bytes: 3 }]);
    expect(await storage.models.get('job-1', 'arch-2')).toBeUndefined();

    await storage.verifications.create({
      id: 'v1',
      deviceId: 'dev-a',
      jobId: 'job-1',
      space: 'proxy-28',
      architecture: 'a',
    });
    expect((await storage.verifications.listPending('dev-a')).map((v) => v.id)).toEqual(['v1']);
    await storage.measurements.insertBatch('dev-a', {
      architectures: [
        {
          ...block('am1', 4),
          space: 'proxy-28',
          architecture: 'a',
          verificationId: 'v1',
        },
      ],
    });
    const v = await storage.verifications.get('v1');
    expect(v).toMatchObject({ status: 'completed', measurementId: 'am1' });
    expect(await storage.verifications.listPending('dev-a')).toEqual([]);

    expect(
      await storage.jobs.setStatus('job-1', 'completed', {
        result: { front: [], trained: 1, hypervolume: 0, stoppedBy: 'budget' },
      }),
    ).toBe(true);
    // Terminal status is final.
    expect(await storage.jobs.setStatus('job-1', 'cancelled')).toBe(false);
    expect((await storage.jobs.get('job-1'))?.status).toBe('completed');
  });

  it('keeps scored candidates and stand-alone retrainings, idempotent per (architecture, seed, purpose)', async () => {
    await storage.jobs.create(jobInput('job-2', 'dev-a'));
    await storage.candidates.upsert({
      jobId: 'job-2',
      architectureId: 'arch-s',
      architecture: 's',
      generation: 0,
      status: 'scored',
      accuracy: 0.61,
    });
    expect((await storage.candidates.list('job-2', { status: 'scored' })).map((c) => c.accuracy)).toEqual([
      0.61,
    ]);

    const first = await storage.standaloneTrainings.upsert({
      jobId: 'job-2',
      architectureId: 'arch-s',
      architecture: 's',
      seed: 1,
      purpose: 'finalist',
      accuracy: 0.7,
      training: { steps: 300, backend: 'wasm' },
    });
    expect(first).toMatchObject({ baseline: null, accuracy: 0.7, training: { steps: 300, backend: 'wasm' } });
    // A retried activity writes the same key again: one row, the new result, the first creation time.
    const again = await storage.standaloneTrainings.upsert({
      jobId: 'job-2',
      architectureId: 'arch-s',
      architecture: 's',
      seed: 1,
      purpose: 'finalist',
      accuracy: 0.71,
    });
    expect(again).toMatchObject({ accuracy: 0.71, training: null, createdAt: first.createdAt });
    await storage.standaloneTrainings.upsert({
      jobId: 'job-2',
      architectureId: 'arch-s',
      architecture: 's',
      seed: 2,
      purpose: 'finalist',
      accuracy: 0.73,
    });
    // The same architecture as a baseline is another row.
    await storage.standaloneTrainings.upsert({
      jobId: 'job-2',
      architectureId: 'arch-s',
      architecture: 's',
      seed: 1,
      purpose: 'baseline',
      baseline: 'smallest',
      accuracy: 0.69,
    });
    await storage.standaloneTrainings.upsert({
      jobId: 'job-2',
      architectureId: 'arch-m',
      architecture: 'm',
      seed: 1,
      purpose: 'baseline',
      baseline: 'mobilenetv2-like',
      accuracy: 0.77,
    });
    expect(await storage.standaloneTrainings.get('job-2', 'arch-s', 1, 'baseline')).toMatchObject({
      baseline: 'smallest',
      accuracy: 0.69,
    });
    expect(await storage.standaloneTrainings.get('job-2', 'arch-s', 3, 'finalist')).toBeUndefined();
    const rows = await storage.standaloneTrainings.listForJob('job-2');
    expect(rows.map((r) => [r.purpose, r.architectureId, r.seed, r.accuracy])).toEqual([
      ['finalist', 'arch-s', 1, 0.71],
      ['finalist', 'arch-s', 2, 0.73],
      ['baseline', 'arch-m', 1, 0.77],
      ['baseline', 'arch-s', 1, 0.69],
    ]);
    expect(await storage.standaloneTrainings.listForJob('job-1')).toEqual([]);
  });

  it('shares supernet files: a checkpoint never goes back in steps, an artifact is written once', async () => {
    const bytes = (fill: number) => new Uint8Array([fill, fill, fill]);
    await storage.supernets.put({
      key: 'k1',
      kind: 'checkpoint',
      step: 500,
      sha256: 'c500',
      bytes: bytes(5),
    });
    await storage.supernets.put({
      key: 'k1',
      kind: 'checkpoint',
      step: 250,
      sha256: 'c250',
      bytes: bytes(2),
    });
    expect(await storage.supernets.head('k1', 'checkpoint')).toMatchObject({ step: 500, sha256: 'c500' });
    await storage.supernets.put({
      key: 'k1',
      kind: 'checkpoint',
      step: 750,
      sha256: 'c750',
      bytes: bytes(7),
    });
    expect([...((await storage.supernets.get('k1', 'checkpoint'))?.bytes ?? [])]).toEqual([7, 7, 7]);
    await storage.supernets.put({ key: 'k1', kind: 'artifact', step: 1000, sha256: 'a', bytes: bytes(9) });
    await storage.supernets.put({ key: 'k1', kind: 'artifact', step: 1000, sha256: 'b', bytes: bytes(1) });
    expect(await storage.supernets.get('k1', 'artifact')).toMatchObject({ sha256: 'a', step: 1000 });
    await storage.supernets.deleteCheckpoint('k1');
    expect(await storage.supernets.head('k1', 'checkpoint')).toBeUndefined();
    expect(await storage.supernets.head('k1', 'artifact')).toBeDefined();
  });

  it('keeps the latest training checkpoint per key: never an earlier step, gone once deleted', async () => {
    const bytes = (fill: number) => new Uint8Array([fill, fill]);
    const checkpoints = storage.trainingCheckpoints;
    await checkpoints.put({ key: 'final-model/m1', step: 40, sha256: 's40', bytes: bytes(4) });
    await checkpoints.put({ key: 'final-model/m1', step: 20, sha256: 's20', bytes: bytes(2) });
    await checkpoints.put({ key: 'final-model/m2', step: 10, sha256: 's10', bytes: bytes(1) });
    expect(await checkpoints.get('final-model/m1')).toMatchObject({ step: 40, sha256: 's40' });
    await checkpoints.put({ key: 'final-model/m1', step: 60, sha256: 's60', bytes: bytes(6) });
    expect([...((await checkpoints.get('final-model/m1'))?.bytes ?? [])]).toEqual([6, 6]);
    await checkpoints.delete('final-model/m1');
    expect(await checkpoints.get('final-model/m1')).toBeUndefined();
    expect(await checkpoints.get('final-model/m2')).toMatchObject({ step: 10 });
  });

  it('keeps final models: request, progress, trained float file, then card and INT8 file in one update', async () => {
    await storage.jobs.create(jobInput('job-f', 'dev-a'));
    const request = {
      epochs: 10,
      batchSize: 64,
      augmentation: { crop: true, flip: false },
      seed: 1,
      calibrationImages: 256,
      precisions: ['float32', 'int8'] as const,
    };
    const created = await storage.finalModels.create({
      id: 'fm-1',
      jobId: 'job-f',
      architectureId: 'arch-1',
      architecture: 'a',
      request,
    });
    expect(created).toMatchObject({
      status: 'queued',
      request,
      card: null,
      floatBytes: null,
      int8Bytes: null,
    });
    expect(await storage.finalModels.setStatus('fm-1', 'running')).toBe(true);
    await storage.finalModels.setProgress('fm-1', {
      phase: 'training',
      step: 5,
      totalSteps: 10,
      loss: 1.5,
      updatedAt: '2026-01-01T00:00:00.000Z',
    });
    await storage.finalModels.saveTrained('fm-1', new Uint8Array([1, 2, 3, 4]), { steps: 10 });
    expect(await storage.finalModels.get('fm-1')).toMatchObject({
      status: 'running',
      progress: { phase: 'training', step: 5 },
      training: { steps: 10 },
      floatBytes: 4,
      int8Bytes: null,
    });
    expect(await storage.finalModels.file('fm-1', 'int8')).toBeUndefined();
    const card = { finalModelId: 'fm-1', training: { steps: 10 } } as unknown as ModelCard;
    await storage.finalModels.complete('fm-1', card, new Uint8Array([9, 9]));
    const done = await storage.finalModels.get('fm-1');
    expect(done).toMatchObject({ status: 'completed', card, floatBytes: 4, int8Bytes: 2 });
    expect(done?.progress).toMatchObject({ phase: 'completed', step: 10, totalSteps: 10 });
    expect(Array.from((await storage.finalModels.file('fm-1', 'float')) ?? [])).toEqual([1, 2, 3, 4]);
    expect(Array.from((await storage.finalModels.file('fm-1', 'int8')) ?? [])).toEqual([9, 9]);
    // Completed is final: a late failure or progress report changes nothing.
    expect(await storage.finalModels.setStatus('fm-1', 'failed', 'late')).toBe(false);
    await storage.finalModels.setProgress('fm-1', {
      phase: 'training',
      step: 1,
      totalSteps: 10,
      updatedAt: '',
    });
    expect((await storage.finalModels.get('fm-1'))?.progress?.phase).toBe('completed');
    expect((await storage.finalModels.list('job-f')).map((m) => m.id)).toEqual(['fm-1']);
    await storage.finalModels.deleteUnstarted('fm-1');
    expect(await storage.finalModels.get('fm-1')).toBeDefined();
  });

  it('lets one job at a time claim a supernet key, until its lease runs out', async () => {
    const t0 = new Date('2026-01-01T00:00:00.000Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    expect(await storage.supernets.claim('k2', 'job-a', 60_000, t0)).toEqual({ claimed: true });
    expect(await storage.supernets.claim('k2', 'job-b', 60_000, at(10))).toEqual({
      claimed: false,
      owner: 'job-a',
      expiresAt: at(60).toISOString(),
    });
    // The holder renews (or a retried attempt of the same job takes it again).
    expect(await storage.supernets.claim('k2', 'job-a', 60_000, at(50))).toEqual({ claimed: true });
    expect(await storage.supernets.claim('k2', 'job-b', 60_000, at(100))).toMatchObject({ claimed: false });
    // The lease ran out: another job takes over.
    expect(await storage.supernets.claim('k2', 'job-b', 60_000, at(111))).toEqual({ claimed: true });
    await storage.supernets.release('k2', 'job-a');
    expect(await storage.supernets.claim('k2', 'job-a', 60_000, at(112))).toMatchObject({ claimed: false });
    await storage.supernets.release('k2', 'job-b');
    expect(await storage.supernets.claim('k2', 'job-a', 60_000, at(113))).toEqual({ claimed: true });
  });

  it('keeps every device of measured latencies recorded at the same time (no lost update)', async () => {
    await storage.jobs.create(jobInput('job-3', 'dev-a'));
    await storage.candidates.upsert({
      jobId: 'job-3',
      architectureId: 'arch-m',
      architecture: 'm',
      generation: 0,
      status: 'scored',
    });
    const devices = Array.from({ length: 8 }, (_, i) => `dev-${i}`);
    await Promise.all(
      devices.map((d, i) => storage.candidates.recordMeasuredLatency('job-3', 'arch-m', d, i + 0.5)),
    );
    expect((await storage.candidates.get('job-3', 'arch-m'))?.measuredLatencyByDevice).toEqual(
      Object.fromEntries(devices.map((d, i) => [d, i + 0.5])),
    );
  });
});

describe('migrations', () => {
  it('upgrades a database written before stand-alone retrainings and device owners existed, keeping its rows', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'edgenas-migrate-'));
    const url = `sqlite:${join(scratch, 'old.db')}`;
    try {
      const sqlite = new BetterSqlite3(join(scratch, 'old.db'));
      const old = new Kysely<EdgeNasDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
      const { '0001_initial': initial } = buildMigrations('sqlite');
      const migrator = new Migrator({
        db: old,
        provider: { getMigrations: async () => ({ '0001_initial': initial }) },
      });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      await new JobRepository(old).create(jobInput('old-job', 'dev-x'));
      // two devices of one name, as restarts used to register them: the owner index must not refuse them
      const insertDevice = sqlite.prepare(
        'insert into devices (id, name, profile_json, token_hash, created_at) values (?, ?, ?, ?, ?)',
      );
      for (const id of ['old-1', 'old-2']) {
        insertDevice.run(id, 'local-cpu', JSON.stringify(PROFILE), `hash-${id}`, '2026-01-01T00:00:00.000Z');
      }
      await old.destroy();

      const upgraded = await openStorage(url);
      try {
        expect((await upgraded.jobs.get('old-job'))?.input.jobId).toBe('old-job');
        expect(await upgraded.standaloneTrainings.listForJob('old-job')).toEqual([]);
        expect((await upgraded.devices.list()).map((d) => d.id)).toEqual(['old-1', 'old-2']);
        // devices from before precisions are fp32 profiles
        expect((await upgraded.devices.list()).map((d) => d.precision)).toEqual(['fp32', 'fp32']);
        await upgraded.devices.create({
          id: 'new-1',
          name: 'local-cpu',
          profile: PROFILE,
          tokenHash: 'h-new',
          owner: 'o',
        });
      } finally {
        await upgraded.close();
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

const postgresIt = process.env.POSTGRES_TEST_URL ? it : it.skip;

describe('migrations on a fresh PostgreSQL database', () => {
  postgresIt('run once when the API and several workers open it at the same moment', async () => {
    const { url, drop } = await scratchPostgres();
    try {
      const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openStorage(url)));
      const storages = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      try {
        expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'opened'))).toEqual(
          Array(4).fill('opened'),
        );
        await storages[0].devices.create({ id: 'd', name: 'd', profile: PROFILE, tokenHash: 'h' });
        expect((await storages[3].devices.list()).map((d) => d.id)).toEqual(['d']);
      } finally {
        await Promise.all(storages.map((s) => s.close()));
      }
    } finally {
      await drop();
    }
  });
});

describe('parseDatabaseUrl', () => {
  it('accepts sqlite and postgres URLs and names what it accepts otherwise', () => {
    expect(parseDatabaseUrl('sqlite:.edgenas/edgenas.db')).toEqual({
      dialect: 'sqlite',
      target: '.edgenas/edgenas.db',
    });
    expect(parseDatabaseUrl('postgres://u:p@h/db').dialect).toBe('postgres');
    expect(() => parseDatabaseUrl('mysql://u:secret@h/db')).toThrow(/u:\*\*\*@.*sqlite:<file path>/);
  });
});

describe('loadDeviceRows', () => {
  let storage: Storage;
  let dir2: string;
  beforeAll(async () => {
    dir2 = mkdtempSync(join(tmpdir(), 'edgenas-rows-'));
    storage = await openStorage(`sqlite:${join(dir2, 'db.sqlite')}`);
    await storage.devices.create({ id: 'dev', name: 'd', profile: PROFILE, tokenHash: 'h' });
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir2, { recursive: true, force: true });
  });

  it('returns the profile and every raw row, end-to-end rows of every space with their purpose', async () => {
    const { signature: _s, overheadMs: _o, id: _i, ...stats } = block('x', 1);
    await storage.measurements.insertBatch('dev', {
      blocks: [block('r1', 1), block('r2', 3), block('r3', 2)],
      architectures: [
        { ...stats, id: 'a1', space: 'proxy-28', architecture: 'x', purpose: 'calibration' },
        { ...stats, id: 'a2', space: 'fbnet-224', architecture: 'y', purpose: 'reference' },
        { ...stats, id: 'a3', space: 'proxy-28', architecture: 'z' },
      ],
    });
    const rows = await loadDeviceRows(storage, 'dev');
    expect(rows?.profile).toEqual({ ...PROFILE, precision: 'fp32' });
    expect(rows?.blocks.map((r) => [r.id, r.estimateMs])).toEqual([
      ['r1', 1],
      ['r2', 3],
      ['r3', 2],
    ]);
    expect(rows?.architectures.map((r) => [r.id, r.space, r.purpose])).toEqual([
      ['a1', 'proxy-28', 'calibration'],
      ['a2', 'fbnet-224', 'reference'],
      ['a3', 'proxy-28', undefined],
    ]);
    expect(await loadDeviceRows(storage, 'ghost')).toBeUndefined();
  });

  it("a final model file's measurement answers its request, keeps which file it was, and never calibrates", async () => {
    const { signature: _s, overheadMs: _o, id: _i, ...stats } = block('x', 1);
    await storage.jobs.create(jobInput('job-fv', 'dev'));
    const request = await storage.verifications.create({
      id: 'vf',
      deviceId: 'dev',
      jobId: 'job-fv',
      space: 'proxy-28',
      architecture: 'x',
      modelFile: { finalModelId: 'fm', file: 'int8' },
    });
    expect(request).toMatchObject({ status: 'pending', modelFile: { finalModelId: 'fm', file: 'int8' } });
    await storage.measurements.insertBatch('dev', {
      architectures: [
        { ...stats, id: 'af', space: 'proxy-28', architecture: 'x', verificationId: 'vf', modelFile: 'int8' },
      ],
    });
    expect(await storage.verifications.get('vf')).toMatchObject({ status: 'completed', measurementId: 'af' });
    expect(await storage.measurements.getArchitectureMeasurement('af')).toMatchObject({
      verificationId: 'vf',
      modelFile: 'int8',
    });
    const rows = await loadDeviceRows(storage, 'dev');
    expect(rows?.architectures.map((r) => r.id)).not.toContain('af');
    expect(rows?.architectures.length).toBeGreaterThan(0);
  });
});
