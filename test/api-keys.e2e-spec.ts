import { existsSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28, formatArchitecture, parseArchitecture } from '@edgenas/search-space';
import { openStorage } from '@edgenas/storage';
import { hashSecret } from '../apps/api/src/auth/auth';
import { runCli } from '../apps/cli/src/cli';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';

const PORT = 3131;
const PORT_LIMITED = 3132;
const PORT_CLI = 3133;
/** A second EDGENAS_API_KEYS entry: another owner. */
const OTHER_KEY = 'api-e2e-other-owner-key';

interface KeyView {
  id: string;
  name: string;
  source: 'stored' | 'environment';
  createdAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  current: boolean;
  key?: string;
}

describe('API: stored user keys, revocation and device-token scope (real Nest app over HTTP, real SQLite file)', () => {
  let api: ApiTestContext;
  let first: KeyView & { key: string };
  let second: KeyView & { key: string };
  let deviceA: { id: string; token: string };
  let deviceB: { id: string; token: string };

  beforeAll(async () => {
    api = await startApiForTest(PORT, { apiKeys: [USER_KEY, OTHER_KEY] });
    deviceA = (await register(USER_KEY, 'bench-a')).body;
    deviceB = (await register(USER_KEY, 'bench-b')).body;
  });
  afterAll(async () => {
    await api?.close();
  });

  function register(key: string, name: string) {
    return api
      .http()
      .post('/v1/devices')
      .set(...auth(key))
      .send({ name, profile: PROFILE });
  }
  function createKey(key: string, name: string) {
    return api
      .http()
      .post('/v1/keys')
      .set(...auth(key))
      .send({ name });
  }
  const get = (path: string, key: string) =>
    api
      .http()
      .get(path)
      .set(...auth(key));
  const revoke = (id: string, key: string) =>
    api
      .http()
      .delete(`/v1/keys/${id}`)
      .set(...auth(key));

  /** Straight from the database file, through a second connection: what is really stored. */
  async function stored<T>(read: (s: Awaited<ReturnType<typeof openStorage>>) => Promise<T>): Promise<T> {
    const storage = await openStorage(api.databaseUrl);
    try {
      return await read(storage);
    } finally {
      await storage.close();
    }
  }

  it('creates keys that act for their creator: the secret shown once, the same devices seen and managed', async () => {
    const made = await createKey(USER_KEY, 'ci');
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'ci', source: 'stored', revokedAt: null, current: false });
    expect(made.body.key).toMatch(/^enk_/);
    first = made.body;
    // a key made by a stored key acts for the same owner too
    const made2 = await createKey(first.key, 'ci-2');
    expect(made2.status).toBe(201);
    second = made2.body;
    expect(second.id).not.toBe(first.id);

    const seen = await Promise.all([USER_KEY, first.key, second.key].map((k) => get('/v1/devices', k)));
    for (const res of seen) {
      expect(res.status).toBe(200);
      expect(res.body.map((d: { id: string }) => d.id)).toEqual([deviceA.id, deviceB.id]);
    }
    // same owner: the name is taken for the new key as for the one that registered it, and it may re-issue
    // the device's token (owner-scoped), which another owner may not
    expect((await register(second.key, 'bench-a')).status).toBe(409);
    const reissued = await api
      .http()
      .post(`/v1/devices/${deviceA.id}/token`)
      .set(...auth(first.key));
    expect(reissued.status).toBe(200);
    deviceA = { id: deviceA.id, token: reissued.body.token };
    const foreign = await api
      .http()
      .post(`/v1/devices/${deviceA.id}/token`)
      .set(...auth(OTHER_KEY));
    expect(foreign.status).toBe(403);

    const listed = await get('/v1/keys', first.key);
    expect(listed.status).toBe(200);
    expect(listed.body.map((k: KeyView) => [k.id, k.source, k.current])).toEqual([
      ['env-1', 'environment', false],
      [first.id, 'stored', true],
      [second.id, 'stored', false],
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(first.key);
    expect(JSON.stringify(listed.body)).not.toContain(second.key);
    expect(listed.body[1].lastUsedAt).toEqual(expect.any(String));
    // another owner sees only its own environment key
    const others = await get('/v1/keys', OTHER_KEY);
    expect(others.body.map((k: KeyView) => k.id)).toEqual(['env-2']);

    // only the hash is stored
    const row = await stored((s) => s.apiKeys.findBySecretHash(hashSecret(first.key)));
    expect(row).toMatchObject({ id: first.id, name: 'ci' });
    if (api.databaseUrl.startsWith('sqlite:')) {
      // the database file and its write-ahead log, where recent rows are until a checkpoint
      const path = api.databaseUrl.slice('sqlite:'.length);
      const file = Buffer.concat([path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p)));
      expect(file.includes(Buffer.from(first.key))).toBe(false);
      expect(file.includes(Buffer.from(hashSecret(first.key)))).toBe(true);
    }
  });

  it('revokes a key without a restart: its very next request is 401, the other keys keep working', async () => {
    expect((await get('/v1/devices', first.key)).status).toBe(200);
    const revoked = await revoke(first.id, second.key);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: first.id, revokedAt: expect.any(String) });

    const refused = await get('/v1/devices', first.key);
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/revoked/);
    expect(refused.body.errors[0].field).toBe('headers.authorization');
    expect((await createKey(first.key, 'sneaky')).status).toBe(401);
    expect((await get('/v1/devices', second.key)).status).toBe(200);
    expect((await get('/v1/devices', USER_KEY)).status).toBe(200);

    // idempotent: the first revocation time stays
    const again = await revoke(first.id, USER_KEY);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const listed = await get('/v1/keys', USER_KEY);
    expect(listed.body.find((k: KeyView) => k.id === first.id).revokedAt).toBe(revoked.body.revokedAt);

    // a key may revoke itself; the response is its last answer
    expect((await revoke(second.id, second.key)).status).toBe(200);
    expect((await get('/v1/devices', second.key)).status).toBe(401);
  });

  it("refuses another owner's key and unknown keys (404) and environment keys (409); users only", async () => {
    const third = (await createKey(USER_KEY, 'third')).body as KeyView & { key: string };
    const foreign = await revoke(third.id, OTHER_KEY);
    expect(foreign.status).toBe(404);
    expect(foreign.body.errors[0].field).toBe('id');
    expect((await stored((s) => s.apiKeys.get(third.id)))?.revokedAt).toBeNull();
    expect((await get('/v1/devices', third.key)).status).toBe(200);
    expect((await revoke('no-such-key', USER_KEY)).status).toBe(404);

    const env = await revoke('env-1', USER_KEY);
    expect(env.status).toBe(409);
    expect(env.body.message).toMatch(/EDGENAS_API_KEYS/);
    expect((await revoke('env-2', USER_KEY)).status).toBe(404);
    expect((await get('/v1/devices', USER_KEY)).status).toBe(200);

    const noName = await api
      .http()
      .post('/v1/keys')
      .set(...auth(USER_KEY))
      .send({});
    expect(noName.status).toBe(400);
    expect(noName.body.errors.map((e: { field: string }) => e.field)).toContain('name');
    expect((await api.http().get('/v1/keys')).status).toBe(401);
    expect((await createKey(deviceA.token, 'from-a-device')).status).toBe(403);
    expect((await get('/v1/keys', deviceA.token)).status).toBe(403);
    expect((await revoke(third.id, deviceA.token)).status).toBe(403);
  });

  describe("a device token on another device's routes: 403, nothing stored", () => {
    const text = formatArchitecture(
      parseArchitecture(
        'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1',
        PROXY_28,
      ),
      PROXY_28,
    );
    const archRow = (extra: Record<string, unknown> = {}) => {
      const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(spaceSignatures(PROXY_28)[0]);
      return { ...stats, space: 'proxy-28', architecture: text, ...extra };
    };
    const counts = () => stored((s) => s.measurements.countRows());

    beforeAll(async () => {
      await stored(async (s) => {
        await s.jobs.create({
          jobId: 'job-b',
          deviceIds: [deviceB.id],
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
        await s.verifications.create({
          id: 'ver-b',
          deviceId: deviceB.id,
          jobId: 'job-b',
          space: 'proxy-28',
          architecture: text,
        });
      });
    });

    it.each([
      ['block measurements', () => ({ blocks: [syntheticBlockRow(spaceSignatures(PROXY_28)[0])] })],
      ['architecture measurements', () => ({ architectures: [archRow()] })],
      [
        "an answer to the device's verification request",
        () => ({ architectures: [archRow({ verificationId: 'ver-b' })] }),
      ],
    ])('uploads of %s to another device', async (_what, batch) => {
      const before = await counts();
      const res = await api
        .http()
        .post(`/v1/devices/${deviceB.id}/measurements`)
        .set(...auth(deviceA.token))
        .send(batch());
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/another device/);
      expect(await counts()).toEqual(before);
      expect((await stored((s) => s.verifications.get('ver-b')))?.status).toBe('pending');
    });

    it("answers another device's verification request through its own route: 400 naming it, nothing stored", async () => {
      const before = await counts();
      const res = await api
        .http()
        .post(`/v1/devices/${deviceA.id}/measurements`)
        .set(...auth(deviceA.token))
        .send({ architectures: [archRow({ verificationId: 'ver-b' })] });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('architectures.0.verificationId');
      expect(await counts()).toEqual(before);
      expect((await stored((s) => s.verifications.get('ver-b')))?.status).toBe('pending');
    });

    it.each([
      ['work (its verification requests)', () => `/v1/devices/${deviceB.id}/work`],
      ['LUT', () => `/v1/devices/${deviceB.id}/lut?space=proxy-28`],
      ['missing signatures', () => `/v1/devices/${deviceB.id}/lut/missing?space=proxy-28`],
    ])("reads of another device's %s", async (_what, path) => {
      const res = await get(path(), deviceA.token);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/another device/);
      expect(JSON.stringify(res.body)).not.toContain('ver-b');
    });

    it('user routes on another device (its record, a new token): 403, and its token keeps working', async () => {
      expect((await get(`/v1/devices/${deviceB.id}`, deviceA.token)).status).toBe(403);
      const takeover = await api
        .http()
        .post(`/v1/devices/${deviceB.id}/token`)
        .set(...auth(deviceA.token));
      expect(takeover.status).toBe(403);
      const own = await get(`/v1/devices/${deviceB.id}/work`, deviceB.token);
      expect(own.status).toBe(200);
      expect(own.body.verifications).toEqual([{ id: 'ver-b', space: 'proxy-28', architecture: text }]);
      // and a user key is not a device token
      expect((await get(`/v1/devices/${deviceB.id}/work`, USER_KEY)).status).toBe(403);
    });
  });
});

describe('API: rate limit per key (real Nest app over HTTP, real SQLite file, a limit of 5 per 10 min)', () => {
  const LIMIT = 5;
  const WINDOW_SECONDS = 600;
  let api: ApiTestContext;

  beforeAll(async () => {
    api = await startApiForTest(PORT_LIMITED, {
      apiKeys: [USER_KEY, OTHER_KEY],
      rateLimit: { limit: LIMIT, windowMs: WINDOW_SECONDS * 1000 },
    });
  });
  afterAll(async () => {
    await api?.close();
  });
  const get = (path: string, key?: string) => {
    const req = api.http().get(path);
    return key === undefined ? req : req.set(...auth(key));
  };

  function expectThrottled(res: Awaited<ReturnType<typeof get>>, who: RegExp) {
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(res.body).toMatchObject({
      statusCode: 429,
      error: 'Too Many Requests',
      retryAfterSeconds: retryAfter,
      errors: [{ field: 'headers.authorization' }],
    });
    expect(res.body.message).toMatch(who);
  }

  it('answers 429 with Retry-After past the limit, for that key only; health and metrics are never limited', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await get('/v1/devices', USER_KEY);
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1 - i));
    }
    expectThrottled(await get('/v1/devices', USER_KEY), /this API key/);
    // one budget across routes
    expectThrottled(await get('/v1/jobs', USER_KEY), /this API key/);
    expect((await get('/v1/devices', OTHER_KEY)).status).toBe(200);

    for (let i = 0; i < 3 * LIMIT; i++) {
      for (const path of ['/health/live', '/health/ready', '/v1/health', '/metrics']) {
        expect((await get(path)).status).toBe(200);
      }
    }
  });

  it('gives stored keys and device tokens their own budget, and counts refused credentials per address', async () => {
    const made = await api
      .http()
      .post('/v1/keys')
      .set(...auth(OTHER_KEY))
      .send({ name: 'fresh' });
    expect(made.status).toBe(201);
    const device = await api
      .http()
      .post('/v1/devices')
      .set(...auth(OTHER_KEY))
      .send({ name: 'limited', profile: PROFILE });
    expect(device.status).toBe(201);

    for (let i = 0; i < LIMIT; i++) expect((await get('/v1/devices', made.body.key)).status).toBe(200);
    expectThrottled(await get('/v1/devices', made.body.key), /this API key/);

    const work = `/v1/devices/${device.body.id}/work`;
    for (let i = 0; i < LIMIT; i++) expect((await get(work, device.body.token)).status).toBe(200);
    expectThrottled(await get(work, device.body.token), /this device token/);

    for (let i = 0; i < LIMIT; i++) expect((await get('/v1/devices', 'enk_guessed')).status).toBe(401);
    expectThrottled(await get('/v1/devices', 'enk_guessed'), /this address/);

    // OTHER_KEY's 4th request of its 5 (one in the test above, two here): still served
    expect((await get('/v1/devices', OTHER_KEY)).status).toBe(200);
  });
});

describe('CLI: edgenas keys create | list | revoke (in process, against a real Nest app over HTTP, real SQLite file)', () => {
  let api: ApiTestContext;

  beforeAll(async () => {
    api = await startApiForTest(PORT_CLI);
  });
  afterAll(async () => {
    await api?.close();
  });

  async function edgenas(key: string, ...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--api', `http://127.0.0.1:${PORT_CLI}`, '--api-key', key, ...args], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
      cwd: api.dir,
      progressStream: new PassThrough() as unknown as NodeJS.WriteStream,
    });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  it('creates a key that works, lists it without its secret, revokes it and says why it is refused', async () => {
    const created = await edgenas(USER_KEY, 'keys', 'create', 'laptop');
    expect(created.code).toBe(0);
    const secret = /(enk_\S+)/.exec(created.stdout)?.[1];
    const id = /created key (\S+)/.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(id).toBeDefined();

    const listed = await edgenas(secret as string, 'keys', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${id} (this key)`);
    expect(listed.stdout).toContain('laptop');
    expect(listed.stdout).toContain('env-1');
    expect(listed.stdout).not.toContain(secret);
    const json = await edgenas(USER_KEY, '--json', 'keys', 'list');
    expect(JSON.parse(json.stdout).map((k: KeyView) => k.id)).toEqual(['env-1', id]);

    const envRevoke = await edgenas(USER_KEY, 'keys', 'revoke', 'env-1');
    expect(envRevoke.code).toBe(1);
    expect(envRevoke.stderr).toMatch(/EDGENAS_API_KEYS.*\(HTTP 409\)/);

    const revoked = await edgenas(USER_KEY, 'keys', 'revoke', id as string);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/revoked at/);
    const refused = await edgenas(secret as string, 'devices', 'list');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/revoked.*\(HTTP 401\)/);
  });
});
