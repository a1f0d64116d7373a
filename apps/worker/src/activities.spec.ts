import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLut, chooseCalibrationSet } from '@edgenas/latency-predictor';
import { PROFILE, archRow, lutRows } from '@edgenas/latency-predictor/test-rows.fixture';
import { PROXY_28, formatArchitecture } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
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
