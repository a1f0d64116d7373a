import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28 } from '@edgenas/search-space';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';

const API_PORT = 3106;

describe('API: latency range of a space on a device (real SQLite, synthetic LUT rows, recording workflow client)', () => {
  let api: ApiTestContext;
  let device: { id: string; token: string };

  beforeAll(async () => {
    api = await startApiForTest(API_PORT);
    device = (
      await api
        .http()
        .post('/v1/devices')
        .set(...auth(USER_KEY))
        .send({ name: 'range', profile: PROFILE })
    ).body;
  });

  afterAll(async () => {
    await api?.close();
  });

  const range = (query: string) =>
    api
      .http()
      .get(`/v1/devices/${device.id}/latency-range?${query}`)
      .set(...auth(USER_KEY));

  it('answers 409 naming the missing signatures until the LUT covers the space', async () => {
    const res = await range('space=proxy-28');
    expect(res.status).toBe(409);
    expect(res.body.missingCount).toBe(spaceSignatures(PROXY_28).length);
    expect(res.body.errors[0].field).toBe('id');
  });

  it('returns the fastest achievable latency (as job creation prices it) and a seeded sample spread', async () => {
    const rows = spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s));
    const up = await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: rows });
    expect(up.body.accepted).toBe(rows.length);

    const res = await range('space=proxy-28&samples=300&seed=7');
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r).toMatchObject({
      deviceId: device.id,
      space: 'proxy-28',
      samples: 300,
      seed: 7,
      calibrated: false,
    });
    const ordered = [
      r.fastestAchievableMs,
      r.sampledFastestMs,
      r.p10Ms,
      r.medianMs,
      r.p90Ms,
      r.sampledSlowestMs,
    ];
    expect([...ordered].sort((a, b) => a - b)).toEqual(ordered);
    expect(r.sampledSlowestMs).toBeGreaterThan(r.sampledFastestMs);
    expect(r.suggestedBudgetMs).toBe(r.medianMs);
    // the same seed gives the same answer; the default seed another
    expect((await range('space=proxy-28&samples=300&seed=7')).body).toEqual(r);
    expect((await range('space=proxy-28&samples=300')).body.medianMs).not.toBe(r.medianMs);

    // job creation refuses a budget under the same fastest latency
    const job = await api
      .http()
      .post('/v1/jobs')
      .set(...auth(USER_KEY))
      .send({
        deviceIds: [device.id],
        latencyBudgetMs: r.fastestAchievableMs * 0.99,
        space: 'proxy-28',
        proxy: { dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 }, epochs: 1, batchSize: 16 },
        budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 60 },
        evaluation: { mode: 'standalone', baselines: false },
      });
    expect(job.status).toBe(422);
    expect(job.body.fastestAchievableMs).toBeCloseTo(r.fastestAchievableMs, 9);
  });

  it.each([
    ['samples=0', 'samples'],
    ['samples=100000', 'samples'],
    ['space=proxy-28&input=12x12', 'input'],
    ['space=nope', 'space'],
    ['', 'space'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const res = await range(query.startsWith('space') || query === '' ? query : `space=proxy-28&${query}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('answers 404 for an unknown device and 401 without a key', async () => {
    const unknown = await api
      .http()
      .get('/v1/devices/ghost/latency-range?space=proxy-28')
      .set(...auth(USER_KEY));
    expect(unknown.status).toBe(404);
    expect((await api.http().get(`/v1/devices/${device.id}/latency-range?space=proxy-28`)).status).toBe(401);
  });
});
