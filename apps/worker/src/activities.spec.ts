import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLut, chooseCalibrationSet } from '@edgenas/latency-predictor';
import { PROFILE, archRow, lutRows } from '@edgenas/latency-predictor/test-rows.fixture';
import { PROXY_28, formatArchitecture } from '@edgenas/search-space';
import { Storage, SupernetRepository, openStorage } from '@edgenas/storage';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SupernetTrainRequest, createActivities } from './activities';

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
