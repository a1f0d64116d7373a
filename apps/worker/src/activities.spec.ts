import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLut, chooseCalibrationSet } from '@edgenas/latency-predictor';
import { PROFILE, archRow, lutRows } from '@edgenas/latency-predictor/test-rows.fixture';
import { PROXY_28, formatArchitecture } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from './activities';

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
