import { spaceSignatures } from '@edgenas/latency-predictor';
import {
  Architecture,
  PROXY_28,
  architectureSignatures,
  createRng,
  distinctSignatures,
  formatArchitecture,
  parseArchitecture,
  validChoicesPerLayer,
} from '@edgenas/search-space';
import {
  PROFILE,
  SYNTHETIC_OVERHEAD_MS,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
  syntheticLatencyMs,
} from './support/api-fixtures';
import { openStorage } from '@edgenas/storage';

const PORT = 3102;

/** Expected uncalibrated prediction from the synthetic formula: Σ per layer (estimate − overhead) + one overhead. */
function expectedSumMs(arch: Architecture): number {
  const sigs = architectureSignatures(arch, PROXY_28);
  const priced = [sigs.stem, ...sigs.layers.filter((s) => s !== undefined), sigs.head];
  return priced.reduce(
    (sum, sig) => sum + syntheticLatencyMs(sig) - SYNTHETIC_OVERHEAD_MS,
    SYNTHETIC_OVERHEAD_MS,
  );
}

function randomArchitectures(n: number, seed: number): Architecture[] {
  const choices = validChoicesPerLayer(PROXY_28);
  const rng = createRng(seed);
  return Array.from({ length: n }, () => ({ blocks: choices.map((c) => rng.pick(c)) }));
}

describe('API: latency prediction from stored rows (rows are synthetic, made from a MAC formula; real ORT measurements are covered by the agent e2e)', () => {
  let api: ApiTestContext;
  let device: { id: string; token: string };
  const small = parseArchitecture(
    'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1',
    PROXY_28,
  );

  beforeAll(async () => {
    api = await startApiForTest(PORT);
    const res = await api
      .http()
      .post('/v1/devices')
      .set(...auth(USER_KEY))
      .send({ name: 'predict', profile: PROFILE });
    device = res.body;
    const rows = distinctSignatures(small, PROXY_28).map((s) => syntheticBlockRow(s));
    const up = await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: rows });
    expect(up.body.accepted).toBe(rows.length);
  });
  afterAll(async () => {
    await api?.close();
  });

  function predict(body: Record<string, unknown>) {
    return api
      .http()
      .post('/v1/latency/predict')
      .set(...auth(USER_KEY))
      .send(body);
  }

  it('sums the overhead-corrected LUT entries per layer with a breakdown (uncalibrated)', async () => {
    const res = await predict({
      deviceId: device.id,
      space: 'proxy-28',
      architecture: formatArchitecture(small, PROXY_28),
    });
    expect(res.status).toBe(200);
    const nonSkip = res.body.breakdown.filter((b: { key: string | null }) => b.key !== null);
    expect(res.body.breakdown).toHaveLength(22 + 2);
    expect(nonSkip).toHaveLength(2 + small.blocks.filter((b) => b !== 'skip').length);
    expect(res.body.latencyMs).toBeCloseTo(expectedSumMs(small), 9);
    expect(res.body.calibrated).toBe(false);
    expect(res.body.uncertaintyMs).toBeGreaterThan(0);
    expect(res.body.architectureId).toMatch(/\S/);
  });

  it('names missing LUT signatures (409) and refuses bad input (400/404)', async () => {
    const other = { blocks: small.blocks.map((b, i) => (i === 1 ? 'ir_k5_e6' : b)) } as Architecture;
    const missing = await predict({
      deviceId: device.id,
      space: 'proxy-28',
      architecture: formatArchitecture(other, PROXY_28),
    });
    expect(missing.status).toBe(409);
    expect(missing.body.missingCount).toBe(1);
    expect(missing.body.missing).toEqual(['ir_k5_e6:s1:c8-12:14x14:relu']);
    expect(missing.body.message).toMatch(/lacks 1 block signature.*run a device agent/);

    const estimated = await predict({
      deviceId: device.id,
      space: 'proxy-28',
      architecture: formatArchitecture(other, PROXY_28),
      allowEstimates: true,
    });
    expect(estimated.status).toBe(200);
    expect(estimated.body.estimated).toEqual(['ir_k5_e6:s1:c8-12:14x14:relu']);

    const badArch = await predict({ deviceId: device.id, space: 'proxy-28', architecture: 'ir_k3_e1-bogus' });
    expect(badArch.status).toBe(400);
    expect(badArch.body.errors[0].field).toBe('architecture');
    const badSpace = await predict({ deviceId: device.id, space: 'resnet', architecture: 'x' });
    expect(badSpace.status).toBe(400);
    expect(badSpace.body.errors[0].field).toBe('space');
    const unknownDevice = await predict({
      deviceId: 'nope',
      space: 'proxy-28',
      architecture: formatArchitecture(small, PROXY_28),
    });
    expect(unknownDevice.status).toBe(404);
    const noDevice = await predict({ space: 'proxy-28', architecture: 'x' });
    expect(noDevice.status).toBe(400);
    expect(noDevice.body.errors.map((e: { field: string }) => e.field)).toContain('deviceId');
    const badGeometry = await predict({
      deviceId: device.id,
      space: 'proxy-28',
      architecture: formatArchitecture(small, PROXY_28),
      input: { height: 2, width: 28, channels: 1 },
    });
    expect(badGeometry.status).toBe(400);
    expect(badGeometry.body.errors[0].field).toBe('input.height');
  });

  it('calibrates on end-to-end architecture measurements of the space', async () => {
    // cover the whole space, then "measure" sampled architectures end to end as 1.5 × sum + 0.2 ms
    const rows = spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s));
    await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: rows });
    const sampled = randomArchitectures(8, 7);
    const uncalibrated: number[] = [];
    for (const arch of sampled) {
      const r = await predict({
        deviceId: device.id,
        space: 'proxy-28',
        architecture: formatArchitecture(arch, PROXY_28),
      });
      expect(r.body.calibrated).toBe(false);
      uncalibrated.push(r.body.latencyMs);
    }
    const measured = uncalibrated.map((ms) => 1.5 * ms + 0.2);
    const archRows = sampled.slice(0, 6).map((arch, i) => {
      const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(rows[0].signature);
      return {
        ...stats,
        estimateMs: measured[i],
        medianMs: measured[i] * 1.05,
        p10Ms: measured[i],
        p90Ms: measured[i] * 1.2,
        space: 'proxy-28',
        architecture: formatArchitecture(arch, PROXY_28),
      };
    });
    const up = await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ architectures: archRows });
    expect(up.body).toEqual({ accepted: 6, duplicates: 0 });

    // held-out architectures: the calibrated prediction recovers the affine relation
    for (const i of [6, 7]) {
      const r = await predict({
        deviceId: device.id,
        space: 'proxy-28',
        architecture: formatArchitecture(sampled[i], PROXY_28),
      });
      expect(r.body.calibrated).toBe(true);
      expect(r.body.calibration.samples).toBe(6);
      expect(Math.abs(r.body.latencyMs - measured[i]) / measured[i]).toBeLessThan(0.02);
    }
    const lut = await api
      .http()
      .get(`/v1/devices/${device.id}/lut?space=proxy-28`)
      .set(...auth(USER_KEY));
    expect(lut.body.coverage.ratio).toBe(1);
    expect(lut.body.calibration.samples).toBe(6);
  });
});

describe('API: verification requests reach the agent through /work and close with an uploaded measurement', () => {
  let api: ApiTestContext;
  beforeAll(async () => {
    api = await startApiForTest(PORT + 1);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('lists pending requests for that device only and completes them from an architecture upload', async () => {
    const reg = async (name: string) =>
      (
        await api
          .http()
          .post('/v1/devices')
          .set(...auth(USER_KEY))
          .send({ name, profile: PROFILE })
      ).body as {
        id: string;
        token: string;
      };
    const a = await reg('a');
    const b = await reg('b');
    const [arch] = randomArchitectures(1, 3);
    const text = formatArchitecture(arch, PROXY_28);
    // the worker's side, through the same repositories it uses
    const storage = await openStorage(api.databaseUrl);
    try {
      await storage.jobs.create({
        jobId: 'job-v',
        deviceIds: [a.id],
        latencyBudgetMs: 10,
        space: 'proxy-28',
        input: PROXY_28.input,
        classes: PROXY_28.classes,
        proxy: {
          dataset: { kind: 'synthetic', trainSize: 8, valSize: 8 },
          epochs: 1,
          batchSize: 8,
          resolution: 28,
        },
        budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 60 },
        strategy: 'random',
        seed: 1,
      });
      await storage.verifications.create({
        id: 'ver-1',
        deviceId: a.id,
        jobId: 'job-v',
        space: 'proxy-28',
        architecture: text,
      });
    } finally {
      await storage.close();
    }
    const workA = await api
      .http()
      .get(`/v1/devices/${a.id}/work`)
      .set(...auth(a.token));
    expect(workA.body.verifications).toEqual([{ id: 'ver-1', space: 'proxy-28', architecture: text }]);
    const workB = await api
      .http()
      .get(`/v1/devices/${b.id}/work`)
      .set(...auth(b.token));
    expect(workB.body.verifications).toEqual([]);

    const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(spaceSignatures(PROXY_28)[0]);
    const row = { ...stats, space: 'proxy-28', architecture: text, verificationId: 'ver-1' };
    const wrongDevice = await api
      .http()
      .post(`/v1/devices/${b.id}/measurements`)
      .set(...auth(b.token))
      .send({ architectures: [row] });
    expect(wrongDevice.status).toBe(400);
    expect(wrongDevice.body.errors[0].field).toBe('architectures.0.verificationId');
    const ok = await api
      .http()
      .post(`/v1/devices/${a.id}/measurements`)
      .set(...auth(a.token))
      .send({ architectures: [row] });
    expect(ok.body).toEqual({ accepted: 1, duplicates: 0 });
    expect(
      (
        await api
          .http()
          .get(`/v1/devices/${a.id}/work`)
          .set(...auth(a.token))
      ).body.verifications,
    ).toEqual([]);
    const check = await openStorage(api.databaseUrl);
    try {
      expect(await check.verifications.get('ver-1')).toMatchObject({
        status: 'completed',
        measurementId: row.id,
      });
    } finally {
      await check.close();
    }
  });
});
