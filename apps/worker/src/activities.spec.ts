import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLut, chooseCalibrationSet } from '@edgenas/latency-predictor';
import { PROFILE, archRow, lutRows } from '@edgenas/latency-predictor/test-rows.fixture';
import { PROXY_28, formatArchitecture } from '@edgenas/search-space';
import { Storage, SupernetRepository, openStorage } from '@edgenas/storage';
import { FinalTrainingInput, FinalTrainingSpec, ModelCard, NasJobInput } from '@edgenas/contracts';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SupernetTrainRequest, createActivities } from './activities';
import type { FileMeasurements } from './model-card';

describe('predictLatency activity', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-activities-'));
    storage = await openStorage(`sqlite:${join(dir, 'db.sqlite')}`);
    await storage.devices.create({ id: 'dev', name: 'd', profile: PROFILE, tokenHash: 'h' });
    const blocks = lutRows(PROXY_28);
    const set = chooseCalibrationSet(PROXY_28, buildLut(blocks));
    const architectures = set.map((m, i) =>
      archRow(PROXY_28, m.architecture, 1.2 * m.predictedMs, { id: `c${i}`, purpose: 'calibration' }),
    );
    await storage.measurements.insertBatch('dev', { blocks, architectures });
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('states, per device, the LUT and calibration versions each price was made with; equal rows, equal prices', async () => {
    const activities = createActivities({ db: storage.handle.db, dataDir: dir });
    const architecture = formatArchitecture(
      chooseCalibrationSet(PROXY_28, buildLut(lutRows(PROXY_28)), { seed: 9 })[3].architecture,
      PROXY_28,
    );
    const request = {
      space: 'proxy-28',
      input: PROXY_28.input,
      classes: PROXY_28.classes,
      deviceIds: ['dev'],
      architectures: [architecture],
    };
    const [first] = await activities.predictLatency(request);
    expect(first.pricedWith.dev).toEqual({
      lutVersion: expect.stringMatching(/^[0-9a-f]{16}$/),
      calibrationVersion: expect.stringMatching(/^[0-9a-f]{16}$/),
      // the rows were measured long before this test runs: the calibration is stale and says so
      calibrationStale: true,
      staleReason: expect.stringMatching(/min ago/),
    });
    const [second] = await activities.predictLatency(request);
    expect(second).toEqual(first);
  });
});

describe('training activities: image folders outside the dataset roots (checked again before reading)', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-activities-roots-'));
    storage = await openStorage(`sqlite:${join(dir, 'db.sqlite')}`);
    mkdirSync(join(dir, 'data', 'datasets'), { recursive: true });
    mkdirSync(join(dir, 'elsewhere', 'hidden-class'), { recursive: true });
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'data', 'datasets', 'looks-local'));
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([['../../elsewhere'], ['/etc'], ['looks-local']])(
    'refuses %s non-retryably, naming proxy.dataset.path and nothing outside the roots',
    async (path) => {
      const activities = createActivities({ db: storage.handle.db, dataDir: join(dir, 'data') });
      const request = {
        jobId: 'job',
        generation: 0,
        architectureId: 'a',
        architecture: 'x',
        space: 'proxy-28',
        proxy: {
          dataset: { kind: 'image-folder' as const, path, valFraction: 0.2 },
          epochs: 1,
          batchSize: 8,
          resolution: 28,
        },
        seed: 1,
      };
      let failure: unknown;
      try {
        await new MockActivityEnvironment().run(activities.proxyTrain, request);
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect((failure as ApplicationFailure).nonRetryable).toBe(true);
      const message = (failure as Error).message;
      expect(message).toMatch(/^proxy\.dataset\.path: /);
      expect(message).not.toMatch(/elsewhere|hidden-class|\/etc/);
      expect(message).not.toContain(dir);
    },
  );
});

describe('trainSupernet activity, following another job that trains the same supernet', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-activities-'));
    storage = await openStorage(`sqlite:${join(dir, 'db.sqlite')}`);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the supernet the other job stored just before it released the claim, instead of training again', async () => {
    const bytes = Buffer.from('the supernet job-a finished');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // The claim of job-b is the only step faked: job-a holds the key at job-b's first look, and stores its
    // finished supernet and releases the key just before job-b's second look (so that look is granted).
    const claim = SupernetRepository.prototype.claim;
    let looks = 0;
    jest.spyOn(SupernetRepository.prototype, 'claim').mockImplementation(async function (
      this: SupernetRepository,
      key: string,
      owner: string,
      leaseMs: number,
    ) {
      if (owner === 'job-b' && ++looks === 1) await claim.call(this, key, 'job-a', leaseMs);
      if (owner === 'job-b' && looks === 2) {
        await this.put({ key, kind: 'artifact', step: 4, sha256, bytes });
        await this.release(key, 'job-a');
      }
      return claim.call(this, key, owner, leaseMs);
    });
    const activities = createActivities({ db: storage.handle.db, dataDir: dir, supernetClaimPollMs: 10 });
    const request: SupernetTrainRequest = {
      jobId: 'job-b',
      space: 'proxy-28',
      proxy: {
        dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
        epochs: 1,
        batchSize: 16,
        resolution: 28,
      },
      supernet: { steps: 4, batchSize: 16, sampling: 'uniform', recalibrationBatches: 1, scoreImages: 32 },
      seed: 1,
    };
    const artifact = await new MockActivityEnvironment().run(activities.trainSupernet, request);
    expect(looks).toBe(2);
    expect(artifact).toMatchObject({
      complete: true,
      reused: true,
      sharedWith: 'job-a',
      sha256,
      trainingMs: 0,
    });
    // job-b gave its claim back: nobody holds the key.
    expect(await storage.handle.db.selectFrom('supernet_claims').selectAll().execute()).toEqual([]);
  });
});

describe('final model verification activities: one device measures both files, the other never answers', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-final-verify-'));
    storage = await openStorage(`sqlite:${join(dir, 'db.sqlite')}`);
    for (const id of ['dev-a', 'dev-b'])
      await storage.devices.create({ id, name: id, profile: PROFILE, tokenHash: `h-${id}` });
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the answered files per device and, after the timeout, the unanswered ones with the reason', async () => {
    const arch = chooseCalibrationSet(PROXY_28, buildLut(lutRows(PROXY_28)))[0].architecture;
    const architecture = formatArchitecture(arch, PROXY_28);
    await storage.jobs.create(
      { jobId: 'job-v', deviceIds: ['dev-a', 'dev-b'] } as unknown as NasJobInput,
      'completed',
    );
    await storage.finalModels.create({
      id: 'fm',
      jobId: 'job-v',
      architectureId: 'a1',
      architecture,
      request: {} as FinalTrainingSpec,
    });
    await storage.finalModels.saveTrained('fm', new Uint8Array([1]), { steps: 1 });
    const card = {
      architecture,
      files: { float: { bytes: 1, sha256: 'f' }, int8: { bytes: 1, sha256: 'i' } },
      geometry: { trained: 'proxy-28', deployment: 'proxy-28' },
      training: { steps: 1 },
      warnings: [],
    } as unknown as ModelCard;
    await storage.finalModels.saveQuantized('fm', card, new Uint8Array([2]));
    expect((await storage.finalModels.get('fm'))?.progress?.phase).toBe('verifying');

    const activities = createActivities({
      db: storage.handle.db,
      dataDir: dir,
      finalVerificationTimeoutMs: 1000,
      verificationPollMs: 20,
    });
    const input = {
      finalModelId: 'fm',
      jobId: 'job-v',
      deployment: { deviceIds: ['dev-a', 'dev-b'] },
    } as unknown as FinalTrainingInput;
    const { requestIds } = await activities.requestFinalModelVerification({ input });
    expect(requestIds).toHaveLength(4);
    // A retried request activity creates nothing new.
    expect((await activities.requestFinalModelVerification({ input })).requestIds).toEqual(requestIds);
    const work = await storage.verifications.listPending('dev-a');
    expect(work.map((v) => v.modelFile?.file).sort()).toEqual(['float', 'int8']);
    await storage.measurements.insertBatch('dev-a', {
      architectures: work.map((v, i) => ({
        ...archRow(PROXY_28, arch, v.modelFile?.file === 'float' ? 2 : 1.5, {
          id: `m${i}`,
          verificationId: v.id,
        }),
        modelFile: v.modelFile?.file,
      })),
    });

    const measured = (await new MockActivityEnvironment().run(activities.awaitFinalModelVerification, {
      requestIds,
    })) as FileMeasurements;
    const reason = "no measurement from the device's agent within 1 s (agent not running, offline, or busy)";
    expect(measured).toEqual({
      float: { 'dev-a': 2 },
      int8: { 'dev-a': 1.5 },
      notMeasured: [
        { device: 'dev-b', file: 'float', reason },
        { device: 'dev-b', file: 'int8', reason },
      ],
    });
    // Given up on: dev-b's agent is no longer asked.
    expect(await storage.verifications.listPending('dev-b')).toEqual([]);
    // Collected without waiting (a cancelled wait): the same answers, the rest listed with the reason given.
    expect(
      await activities.collectFinalModelMeasurements({ requestIds, reason: 'the measurement was cancelled' }),
    ).toEqual({
      ...measured,
      notMeasured: measured.notMeasured.map((n) => ({ ...n, reason: 'the measurement was cancelled' })),
    });

    await activities.completeFinalModel({ finalModelId: 'fm', measured });
    const done = await storage.finalModels.get('fm');
    expect(done?.status).toBe('completed');
    expect(done?.card?.measuredLatencyMs).toEqual({
      float: { 'dev-a': 2 },
      int8: { 'dev-a': 1.5 },
      geometry: 'proxy-28',
      notMeasured: measured.notMeasured,
    });
    expect(done?.card?.warnings).toContain(`the int8 file was not measured on device dev-b: ${reason}`);
    // The INT8 file stored before stays.
    expect(done?.int8Bytes).toBe(1);
  });
});
