import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spaceSignatures } from '@edgenas/latency-predictor';
import {
  distinctSignatures,
  formatArchitecture,
  parseArchitecture,
  PROXY_28,
  signatureKey,
  withGeometry,
} from '@edgenas/search-space';
import { DEFAULT_BENCHMARK_OPTIONS } from '@edgenas/device-benchmark';
import { DeviceProfile } from '@edgenas/contracts';
import { openStorage } from '@edgenas/storage';
import { AgentContext, ensureDevice } from '../apps/agent/src/agent';
import { ApiClient } from '../apps/agent/src/api-client';
import { AgentStore } from '../apps/agent/src/store';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';

const PORT = 3101;
const PORT_OWNERS = 3120;

describe('API: devices, tokens and measurement uploads (real Nest app over HTTP, real SQLite file)', () => {
  let api: ApiTestContext;
  let deviceA: { id: string; token: string };
  let deviceB: { id: string; token: string };

  beforeAll(async () => {
    api = await startApiForTest(PORT);
  });
  afterAll(async () => {
    await api?.close();
  });

  async function rowCounts(deviceId?: string) {
    // a second connection to the same file: what is really stored
    const storage = await openStorage(api.databaseUrl);
    try {
      return await storage.measurements.countRows(deviceId);
    } finally {
      await storage.close();
    }
  }

  it('answers the health check without credentials, and nothing else without them', async () => {
    const health = await api.http().get('/v1/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    expect((await api.http().get('/v1/devices')).status).toBe(401);
  });

  it('registers devices with a user key and returns a token once', async () => {
    const res = await api
      .http()
      .post('/v1/devices')
      .set(...auth(USER_KEY))
      .send({ name: 'bench-a', profile: PROFILE });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'bench-a', profile: PROFILE });
    expect(res.body.token).toMatch(/^edt_/);
    deviceA = res.body;
    const b = await api
      .http()
      .post('/v1/devices')
      .set(...auth(USER_KEY))
      .send({ name: 'bench-b', profile: PROFILE });
    deviceB = b.body;

    const list = await api
      .http()
      .get('/v1/devices')
      .set(...auth(USER_KEY));
    expect(list.status).toBe(200);
    expect(list.body.map((d: { id: string }) => d.id)).toEqual([deviceA.id, deviceB.id]);
    expect(JSON.stringify(list.body)).not.toContain(deviceA.token);
    const one = await api
      .http()
      .get(`/v1/devices/${deviceA.id}`)
      .set(...auth(USER_KEY));
    expect(one.body).toMatchObject({ id: deviceA.id, name: 'bench-a' });
    expect(one.body.token).toBeUndefined();
    expect(
      (
        await api
          .http()
          .get('/v1/devices/nope')
          .set(...auth(USER_KEY))
      ).status,
    ).toBe(404);
  });

  it('refuses missing and wrong credentials (401) and the wrong kind or device (403)', async () => {
    const noAuth = await api.http().get('/v1/devices');
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.errors[0].field).toBe('headers.authorization');
    expect(
      (
        await api
          .http()
          .get('/v1/devices')
          .set(...auth('wrong-key'))
      ).status,
    ).toBe(401);
    // a device token is not a user key
    expect(
      (
        await api
          .http()
          .get('/v1/devices')
          .set(...auth(deviceA.token))
      ).status,
    ).toBe(403);

    const batch = { blocks: [syntheticBlockRow(distinctSignatures(parse(), PROXY_28)[0])] };
    const url = `/v1/devices/${deviceA.id}/measurements`;
    expect((await api.http().post(url).send(batch)).status).toBe(401);
    expect(
      (
        await api
          .http()
          .post(url)
          .set(...auth('edt_forged'))
          .send(batch)
      ).status,
    ).toBe(401);
    const other = await api
      .http()
      .post(url)
      .set(...auth(deviceB.token))
      .send(batch);
    expect(other.status).toBe(403);
    expect(other.body.message).toMatch(/another device/);
    expect(
      (
        await api
          .http()
          .post(url)
          .set(...auth(USER_KEY))
          .send(batch)
      ).status,
    ).toBe(403);
    expect(await rowCounts()).toEqual({ blocks: 0, architectures: 0 });
  });

  function parse() {
    return parseArchitecture(
      'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1',
      PROXY_28,
    );
  }

  it('stores an upload once: a retry with the same ids counts duplicates and adds no rows', async () => {
    const rows = distinctSignatures(parse(), PROXY_28).map((s) => syntheticBlockRow(s));
    const url = `/v1/devices/${deviceA.id}/measurements`;
    const first = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ blocks: rows });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ accepted: rows.length, duplicates: 0 });
    const retry = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ blocks: rows });
    expect(retry.body).toEqual({ accepted: 0, duplicates: rows.length });
    expect(await rowCounts(deviceA.id)).toEqual({ blocks: rows.length, architectures: 0 });
    expect(await rowCounts(deviceB.id)).toEqual({ blocks: 0, architectures: 0 });
  });

  it.each([
    [
      'NaN latency (sent as a string)',
      (r: Record<string, unknown>) => ({ ...r, medianMs: 'NaN' }),
      'blocks.1.medianMs',
    ],
    ['negative latency', (r: Record<string, unknown>) => ({ ...r, p10Ms: -1 }), 'blocks.1.p10Ms'],
    ['absurd latency (> 60 s)', (r: Record<string, unknown>) => ({ ...r, p90Ms: 120_000 }), 'blocks.1.p90Ms'],
    [
      'median below p10',
      (r: Record<string, unknown>) => ({ ...r, medianMs: 0.001, p10Ms: 0.5 }),
      'blocks.1.medianMs',
    ],
    [
      'unknown signature field',
      (r: Record<string, unknown>) => ({ ...r, signature: { ...(r.signature as object), dilation: 2 } }),
      'blocks.1.signature.dilation',
    ],
    [
      'kernel inconsistent with block type',
      (r: Record<string, unknown>) => ({ ...r, signature: { ...(r.signature as object), kernel: 7 } }),
      'blocks.1.signature.kernel',
    ],
    [
      'unknown op',
      (r: Record<string, unknown>) => ({ ...r, signature: { ...(r.signature as object), op: 'conv_k9' } }),
      'blocks.1.signature.op',
    ],
    [
      'missing measuredAt',
      (r: Record<string, unknown>) => ({ ...r, measuredAt: undefined }),
      'blocks.1.measuredAt',
    ],
  ])('rejects a batch with a %s: 400 naming the field, nothing stored', async (_name, mutate, field) => {
    const before = await rowCounts();
    const sigs = distinctSignatures(parse(), PROXY_28);
    const good = syntheticBlockRow(sigs[0]);
    const bad = mutate({ ...syntheticBlockRow(sigs[2]) } as unknown as Record<string, unknown>);
    const res = await api
      .http()
      .post(`/v1/devices/${deviceA.id}/measurements`)
      .set(...auth(deviceA.token))
      .send({ blocks: [good, bad] });
    expect(res.status).toBe(400);
    expect(res.body.statusCode).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(res.body.message).toContain(field);
    expect(await rowCounts()).toEqual(before);
  });

  it('rejects oversized and empty batches, unknown spaces and invalid architectures', async () => {
    const url = `/v1/devices/${deviceA.id}/measurements`;
    const sig = distinctSignatures(parse(), PROXY_28)[0];
    const tooMany = Array.from({ length: 1001 }, () => syntheticBlockRow(sig));
    const big = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ blocks: tooMany });
    expect(big.status).toBe(400);
    expect(big.body.errors.map((e: { field: string }) => e.field)).toContain('blocks');
    expect(
      (
        await api
          .http()
          .post(url)
          .set(...auth(deviceA.token))
          .send({})
      ).status,
    ).toBe(400);

    const arch = {
      ...syntheticBlockRow(sig),
      signature: undefined,
      overheadMs: undefined,
      space: 'proxy-28',
      architecture: 'ir_k3_e1',
    };
    const badArch = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ architectures: [arch] });
    expect(badArch.status).toBe(400);
    expect(badArch.body.errors[0].field).toBe('architectures.0.architecture');
    const badSpace = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ architectures: [{ ...arch, space: 'mobilenet-9000' }] });
    expect(badSpace.status).toBe(400);
    expect(badSpace.body.errors[0]).toMatchObject({ field: 'architectures.0.space' });
    expect(badSpace.body.errors[0].reason).toMatch(/unknown macro config/);
    const valid = { ...arch, architecture: formatArchitecture(parse(), PROXY_28) };
    const badPurpose = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ architectures: [{ ...valid, purpose: 'warmup' }] });
    expect(badPurpose.status).toBe(400);
    expect(badPurpose.body.errors[0]).toMatchObject({
      field: 'architectures.0.purpose',
      reason: 'purpose must be one of calibration, reference',
    });
    const both = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .send({ architectures: [{ ...valid, purpose: 'calibration', verificationId: 'ver-9' }] });
    expect(both.status).toBe(400);
    expect(both.body.errors[0].field).toBe('architectures.0.purpose');
    const huge = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ blocks: [], padding: 'x'.repeat(9 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.errors[0].field).toBe('body');
    const malformed = await api
      .http()
      .post(url)
      .set(...auth(deviceA.token))
      .set('Content-Type', 'application/json')
      .send('{"blocks": [');
    expect(malformed.status).toBe(400);
  });

  it('reports LUT coverage and the missing signatures of a space', async () => {
    const arch = parse();
    const uploaded = new Set(distinctSignatures(arch, PROXY_28).map(signatureKey));
    const lut = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/lut?space=proxy-28`)
      .set(...auth(USER_KEY));
    expect(lut.status).toBe(200);
    expect(lut.body.space).toBe('proxy-28');
    expect(lut.body.coverage.covered).toBe(uploaded.size);
    expect(lut.body.coverage.total).toBeGreaterThan(uploaded.size);
    expect(lut.body.entries.map((e: { key: string }) => e.key).sort()).toEqual([...uploaded].sort());

    const missing = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/lut/missing?space=proxy-28`)
      .set(...auth(deviceA.token));
    expect(missing.status).toBe(200);
    expect(missing.body.keys).toHaveLength(lut.body.coverage.total - uploaded.size);
    expect(missing.body.keys.some((k: string) => uploaded.has(k))).toBe(false);
    expect(missing.body.missing[0]).toHaveProperty('op');

    // another deployment geometry
    const other = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/lut/missing?space=proxy-28&input=32x32x3&classes=10`)
      .set(...auth(USER_KEY));
    expect(other.body.space).toBe('proxy-28@32x32x3-c10');
    const otherGeometry = withGeometry(PROXY_28, {
      input: { height: 32, width: 32, channels: 3 },
      classes: 10,
    });
    // deep layers of both geometries share feature-map sizes, so some uploaded rows price them too
    const expected = spaceSignatures(otherGeometry)
      .map(signatureKey)
      .filter((k) => !uploaded.has(k));
    expect(other.body.keys.sort()).toEqual(expected.sort());

    expect(
      (
        await api
          .http()
          .get(`/v1/devices/${deviceA.id}/lut/missing`)
          .set(...auth(USER_KEY))
      ).status,
    ).toBe(400);
    const badInput = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/lut?space=proxy-28&input=big`)
      .set(...auth(USER_KEY));
    expect(badInput.status).toBe(400);
    expect(badInput.body.errors[0].field).toBe('input');
    const tinyInput = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/lut?space=proxy-28&input=4x28x1`)
      .set(...auth(USER_KEY));
    expect(tinyInput.status).toBe(400);
    expect(tinyInput.body.errors[0]).toEqual({
      field: 'input.height',
      reason: 'must be an integer in 8..2048 (got "4x28x1")',
    });
    expect(
      (
        await api
          .http()
          .get(`/v1/devices/${deviceB.id}/lut?space=proxy-28`)
          .set(...auth(deviceA.token))
      ).status,
    ).toBe(403);

    const work = await api
      .http()
      .get(`/v1/devices/${deviceA.id}/work?space=proxy-28`)
      .set(...auth(deviceA.token));
    expect(work.status).toBe(200);
    expect(work.body.keys).toEqual(missing.body.keys);
    expect(work.body.verifications).toEqual([]);
  });
});

describe('API: an unexpected failure (the database closed under the app)', () => {
  it('answers 500 without leaking internals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgenas-api-e2e-'));
    const storage = await openStorage(`sqlite:${join(dir, 'edgenas.db')}`);
    const api = await startApiForTest(3103, { storage });
    try {
      await storage.close();
      const res = await api
        .http()
        .post('/v1/devices')
        .set(...auth(USER_KEY))
        .send({ name: 'x', profile: PROFILE });
      expect(res.status).toBe(500);
      const requestId = res.headers['x-request-id'];
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: `internal server error (request id ${requestId}; the server log has the details)`,
        errors: [],
        requestId,
      });
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('API: device profiles validated whole, names unique per API key, lost agents take their device over', () => {
  const OTHER_KEY = 'api-e2e-other-key';
  let api: ApiTestContext;
  let dir: string;

  beforeAll(async () => {
    api = await startApiForTest(PORT_OWNERS, { apiKeys: [USER_KEY, OTHER_KEY] });
    dir = mkdtempSync(join(tmpdir(), 'edgenas-owners-e2e-'));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function deviceCount(): Promise<number> {
    const storage = await openStorage(api.databaseUrl);
    try {
      return (await storage.devices.list()).length;
    } finally {
      await storage.close();
    }
  }

  const register = (body: unknown, key = USER_KEY) =>
    api
      .http()
      .post('/v1/devices')
      .set(...auth(key))
      .send(body as object);

  it('refuses an incomplete profile with 400 naming each missing or invalid field; nothing is stored', async () => {
    const before = await deviceCount();
    const noProfile = await register({ name: 'a' });
    expect(noProfile.status).toBe(400);
    expect(noProfile.body.errors).toEqual([
      { field: 'profile', reason: 'profile must be an object (name, hardware and runtime)' },
    ]);
    const { hardware: _h, ...withoutHardware } = PROFILE;
    const cases: [unknown, string][] = [
      [{ ...PROFILE, hardware: undefined }, 'profile.hardware'],
      [withoutHardware, 'profile.hardware'],
      [{ ...PROFILE, runtime: [] }, 'profile.runtime'],
      [{ ...PROFILE, runtime: null }, 'profile.runtime'],
      [{ ...PROFILE, runtime: { ...PROFILE.runtime, threads: 0 } }, 'profile.runtime.threads'],
      [
        { ...PROFILE, runtime: { ...PROFILE.runtime, engineVersion: undefined } },
        'profile.runtime.engineVersion',
      ],
      [{ ...PROFILE, hardware: { ...PROFILE.hardware, memoryBytes: 1.5 } }, 'profile.hardware.memoryBytes'],
      [{ ...PROFILE, hardware: { ...PROFILE.hardware, cores: '2' } }, 'profile.hardware.cores'],
      [{ ...PROFILE, name: '' }, 'profile.name'],
      [{ ...PROFILE, extra: 1 }, 'profile.extra'],
      [{ ...PROFILE, precision: 'int4' }, 'profile.precision'],
      [{ ...PROFILE, precision: 'FP32' }, 'profile.precision'],
      ['x', 'profile'],
    ];
    for (const [profile, field] of cases) {
      const res = await register({ name: 'a', profile });
      expect([res.status, field, res.body.errors.map((e: { field: string }) => e.field)]).toEqual([
        400,
        field,
        expect.arrayContaining([field]),
      ]);
    }
    expect(await deviceCount()).toBe(before);
  });

  it("keeps the profile's precision: fp32 unless it names int8; views and lists show it", async () => {
    const fp32 = await register({ name: 'precision-default', profile: PROFILE });
    const int8 = await register({ name: 'precision-int8', profile: { ...PROFILE, precision: 'int8' } });
    expect([fp32.status, int8.status]).toEqual([201, 201]);
    expect(fp32.body).toMatchObject({ precision: 'fp32', profile: { ...PROFILE, precision: 'fp32' } });
    expect(int8.body).toMatchObject({ precision: 'int8', profile: { ...PROFILE, precision: 'int8' } });
    const one = await api
      .http()
      .get(`/v1/devices/${int8.body.id}`)
      .set(...auth(USER_KEY));
    expect(one.body).toMatchObject({ id: int8.body.id, precision: 'int8' });
    const list = await api
      .http()
      .get('/v1/devices')
      .set(...auth(USER_KEY));
    const byId = new Map(list.body.map((d: { id: string; precision: string }) => [d.id, d.precision]));
    expect([byId.get(fp32.body.id), byId.get(int8.body.id)]).toEqual(['fp32', 'int8']);
  });

  it('answers 409 naming the existing device for a second device of the same name under one API key', async () => {
    const first = await register({ name: 'local-cpu', profile: PROFILE });
    expect(first.status).toBe(201);
    const before = await deviceCount();
    const second = await register({ name: 'local-cpu', profile: PROFILE });
    expect(second.status).toBe(409);
    expect(second.body.existingDeviceId).toBe(first.body.id);
    expect(second.body.errors).toEqual([{ field: 'name', reason: expect.stringContaining(first.body.id) }]);
    expect(await deviceCount()).toBe(before);
    // another API key has its own names
    const other = await register({ name: 'local-cpu', profile: PROFILE }, OTHER_KEY);
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('lets the owner replace a device token (the old one stops working); other keys and unknown ids are refused', async () => {
    const device = (await register({ name: 'token-box', profile: PROFILE })).body as {
      id: string;
      token: string;
    };
    const lut = (token: string) =>
      api
        .http()
        .get(`/v1/devices/${device.id}/lut`)
        .set(...auth(token));
    expect((await lut(device.token)).status).toBe(200);
    const foreign = await api
      .http()
      .post(`/v1/devices/${device.id}/token`)
      .set(...auth(OTHER_KEY));
    expect(foreign.status).toBe(403);
    expect(foreign.body.errors[0].field).toBe('id');
    expect((await lut(device.token)).status).toBe(200);
    const unknown = await api
      .http()
      .post('/v1/devices/no-such-device/token')
      .set(...auth(USER_KEY));
    expect(unknown.status).toBe(404);
    const renewed = await api
      .http()
      .post(`/v1/devices/${device.id}/token`)
      .set(...auth(USER_KEY));
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({
      id: device.id,
      name: 'token-box',
      token: expect.stringMatching(/^edt_/),
    });
    expect((await lut(device.token)).status).toBe(401);
    expect((await lut(renewed.body.token)).status).toBe(200);
  });

  it('an agent whose state was lost (a restart with a fresh state dir) takes its device over instead of failing', async () => {
    const logs: string[] = [];
    const context = (stateDir: string, profile: DeviceProfile): AgentContext => ({
      store: AgentStore.open(stateDir),
      profile,
      apiUrl: `http://127.0.0.1:${PORT_OWNERS}`,
      apiKey: USER_KEY,
      spaces: [],
      benchmark: DEFAULT_BENCHMARK_OPTIONS,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      log: (line) => logs.push(line),
    });
    const client = new ApiClient(`http://127.0.0.1:${PORT_OWNERS}`);
    const profile = { ...PROFILE, name: 'restarted-cpu' };
    const firstCtx = context(join(dir, 'first'), profile);
    const first = await ensureDevice(firstCtx, client);
    firstCtx.store.close();
    const before = await deviceCount();

    const againCtx = context(join(dir, 'fresh'), profile);
    const again = await ensureDevice(againCtx, client);
    againCtx.store.close();
    expect(again?.id).toBe(first?.id);
    expect(again?.token).not.toBe(first?.token);
    expect(logs.join('\n')).toMatch(/already registered as .*taking it over with a new token/);
    expect(await deviceCount()).toBe(before);
    // the new token is the device's; the lost one no longer is
    const work = (token: string) =>
      api
        .http()
        .get(`/v1/devices/${again?.id}/work`)
        .set(...auth(token));
    expect((await work(again!.token)).status).toBe(200);
    expect((await work(first!.token)).status).toBe(401);

    // the same name with another runtime is another device: refused, naming why
    const otherRuntime = context(join(dir, 'two-threads'), {
      ...profile,
      runtime: { ...profile.runtime, threads: 2 },
    });
    await expect(ensureDevice(otherRuntime, client)).rejects.toThrow(
      /already registered with 1 thread\(s\).*use another --name/,
    );
    otherRuntime.store.close();
    expect(await deviceCount()).toBe(before);
  });
});
