/**
 * Strict inputs, end to end over HTTP (real Nest app, real SQLite file; the workflow gateway only records
 * starts): query parameters, measurement id conflicts, future timestamps, image-folder datasets kept under the
 * dataset roots, image uploads, unexpected failures, and a fast-check fuzz of device and job bodies.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28 } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  UNLIMITED,
  syntheticBlockRow,
} from './support/api-fixtures';
import { validJobRequest } from './support/job-inputs';
import { Json, jsonBody } from './support/json-fuzz';

const PORT = 3121;
const PORT_FAILING = 3122;
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261128);

/** Text that must never reach a client: runtime errors, driver errors, stack frames, server paths. */
const INTERNAL_TEXT =
  /TypeError|ReferenceError|Cannot read prop|is not a function|SQLITE|constraint failed|NOT NULL|\.ts:\d+|node_modules/i;

interface Device {
  readonly id: string;
  readonly token: string;
}

function png(value: number): Buffer {
  const image = new PNG({ width: 4, height: 4 });
  image.data.fill(value);
  return PNG.sync.write(image);
}

function jpegBytes(value: number): Buffer {
  return Buffer.from(jpeg.encode({ data: Buffer.alloc(4 * 4 * 4, value), width: 4, height: 4 }, 90).data);
}

describe('API: strict inputs (real Nest app over HTTP, real SQLite file)', () => {
  let api: ApiTestContext;
  let db: Storage;
  let covered: Device;
  let outside: string;

  beforeAll(async () => {
    // Hundreds of fuzzed requests under one key: the rate limit is test/api-keys.e2e-spec.ts's subject.
    api = await startApiForTest(PORT, { rateLimit: UNLIMITED });
    // a second connection: what is really stored
    db = await openStorage(api.databaseUrl);
    const res = await api
      .http()
      .post('/v1/devices')
      .set(...auth(USER_KEY))
      .send({ name: 'covered', profile: PROFILE });
    covered = res.body;
    const up = await api
      .http()
      .post(`/v1/devices/${covered.id}/measurements`)
      .set(...auth(covered.token))
      .send({ blocks: spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s)) });
    expect(up.status).toBe(200);
    // beside the dataset root, never under it
    outside = join(api.dir, 'outside-the-roots');
    mkdirSync(join(outside, 'top-secret-class'), { recursive: true });
    writeFileSync(join(outside, 'top-secret-class', 'a.png'), png(1));
    mkdirSync(join(api.dir, 'datasets'), { recursive: true });
  });
  afterAll(async () => {
    await db?.close();
    await api?.close();
  });

  async function rowCounts(): Promise<Record<string, number>> {
    const count = async (table: 'devices' | 'jobs' | 'block_measurements' | 'architecture_measurements') =>
      Number(
        (
          await db.handle.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return {
      devices: await count('devices'),
      jobs: await count('jobs'),
      blocks: await count('block_measurements'),
      architectures: await count('architecture_measurements'),
    };
  }

  /** A 4xx naming `field`, with no internal text anywhere in the body. */
  function expectRefusal(res: { status: number; body: unknown }, status: number, field: string): void {
    const body = res.body as { errors?: { field: string; reason: string }[]; message?: string };
    expect([res.status, body.errors?.map((e) => e.field)]).toEqual([status, expect.arrayContaining([field])]);
    expect(JSON.stringify(body)).not.toMatch(INTERNAL_TEXT);
  }

  describe('query parameters: each missing or invalid one is a 400 naming it', () => {
    let jobId: string;
    beforeAll(async () => {
      const job = await api
        .http()
        .post('/v1/jobs')
        .set(...auth(USER_KEY))
        .send({ space: 'proxy-28', deviceIds: [covered.id], latencyBudgetMs: 1000 });
      expect(job.status).toBe(202);
      jobId = job.body.id;
    });

    it.each([
      ['lut/missing without space', () => `/v1/devices/${covered.id}/lut/missing`, 'space'],
      ['lut/missing with an empty space', () => `/v1/devices/${covered.id}/lut/missing?space=`, 'space'],
      [
        'lut with non-numeric classes',
        () => `/v1/devices/${covered.id}/lut?space=proxy-28&classes=ten`,
        'classes',
      ],
      [
        'lut with a malformed input',
        () => `/v1/devices/${covered.id}/lut?space=proxy-28&input=28x28`,
        'input',
      ],
      ['lut with an unknown space', () => `/v1/devices/${covered.id}/lut?space=resnet`, 'space'],
      ['latency-range without space', () => `/v1/devices/${covered.id}/latency-range`, 'space'],
      [
        'latency-range with 0 samples',
        () => `/v1/devices/${covered.id}/latency-range?space=proxy-28&samples=0`,
        'samples',
      ],
      [
        'latency-range with a fractional seed',
        () => `/v1/devices/${covered.id}/latency-range?space=proxy-28&seed=1.5`,
        'seed',
      ],
      ['jobs with a non-numeric limit', () => '/v1/jobs?limit=all', 'limit'],
      ['jobs with a repeated limit', () => '/v1/jobs?limit=1&limit=2', 'limit'],
      ['jobs with an unknown parameter', () => '/v1/jobs?sort=asc', 'sort'],
      ['candidates with an unknown status', () => `/v1/jobs/${jobId}/candidates?status=bogus`, 'status'],
    ])('GET %s', async (_name, url, field) => {
      expectRefusal(
        await api
          .http()
          .get(url())
          .set(...auth(USER_KEY)),
        400,
        field,
      );
    });

    it('GET work with an unknown space (device token) and uploads without class or file', async () => {
      expectRefusal(
        await api
          .http()
          .get(`/v1/devices/${covered.id}/work?space=proxy-28,nope`)
          .set(...auth(covered.token)),
        400,
        'space',
      );
      const upload = (query: string) =>
        api
          .http()
          .post(`/v1/datasets/shoes/images${query}`)
          .set(...auth(USER_KEY))
          .set('Content-Type', 'application/octet-stream')
          .send(png(5));
      expectRefusal(await upload('?file=a.png'), 400, 'class');
      expectRefusal(await upload('?class=boot'), 400, 'file');
      expectRefusal(await upload('?class=boot&file=a.gif'), 400, 'file');
      expectRefusal(await upload('?class=..&file=a.png'), 400, 'class');
      expectRefusal(await upload('?class=boot&file=..%2Fa.png'), 400, 'file');
    });
  });

  describe('measurements: ids and timestamps', () => {
    it('a re-sent id with the same values is a duplicate, with other values a 409 naming the id; nothing of that batch is stored', async () => {
      const [a, b] = spaceSignatures(PROXY_28);
      const row = syntheticBlockRow(a, { id: 'conflict-1' });
      const post = (blocks: unknown[], device = covered) =>
        api
          .http()
          .post(`/v1/devices/${device.id}/measurements`)
          .set(...auth(device.token))
          .send({ blocks });
      expect((await post([row])).body).toEqual({ accepted: 1, duplicates: 0 });
      expect((await post([row])).body).toEqual({ accepted: 0, duplicates: 1 });
      const before = await rowCounts();
      const fresh = syntheticBlockRow(b, { id: 'conflict-2' });
      const changed = await post([fresh, { ...row, estimateMs: row.estimateMs * 2 }]);
      expectRefusal(changed, 409, 'blocks.1.id');
      expect(changed.body.errors[0].reason).toMatch(
        /"conflict-1" was already stored with different values \(estimateMs\)/,
      );
      // twice in one batch with different values
      const twice = await post([fresh, { ...fresh, agentVersion: 'other' }]);
      expectRefusal(twice, 409, 'blocks.1.id');
      // another device may not take the id over
      const other = (
        await api
          .http()
          .post('/v1/devices')
          .set(...auth(USER_KEY))
          .send({ name: 'other-device', profile: PROFILE })
      ).body as Device;
      const foreign = await post([row], other);
      expectRefusal(foreign, 409, 'blocks.0.id');
      expect(foreign.body.errors[0].reason).toMatch(/another device/);
      expect({ ...(await rowCounts()), devices: before.devices }).toEqual(before);
    });

    it('refuses measuredAt more than 5 minutes ahead of the server clock, naming the row; a few minutes of skew pass', async () => {
      const [sig] = spaceSignatures(PROXY_28);
      const ahead = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
      const before = await rowCounts();
      const future = await api
        .http()
        .post(`/v1/devices/${covered.id}/measurements`)
        .set(...auth(covered.token))
        .send({ blocks: [syntheticBlockRow(sig, { measuredAt: ahead(10) })] });
      expectRefusal(future, 400, 'blocks.0.measuredAt');
      expect(future.body.errors[0].reason).toMatch(/more than 5 minutes in the future/);
      const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(sig);
      const futureArchitecture = await api
        .http()
        .post(`/v1/devices/${covered.id}/measurements`)
        .set(...auth(covered.token))
        .send({
          architectures: [
            {
              ...stats,
              space: 'proxy-28',
              architecture:
                'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1',
              measuredAt: ahead(60 * 24 * 365),
            },
          ],
        });
      expectRefusal(futureArchitecture, 400, 'architectures.0.measuredAt');
      expect(await rowCounts()).toEqual(before);
      const skewed = await api
        .http()
        .post(`/v1/devices/${covered.id}/measurements`)
        .set(...auth(covered.token))
        .send({ blocks: [syntheticBlockRow(sig, { measuredAt: ahead(3) })] });
      expect(skewed.body).toEqual({ accepted: 1, duplicates: 0 });
    });
  });

  describe('image-folder datasets stay under the dataset roots', () => {
    const createJob = (path: string) =>
      api
        .http()
        .post('/v1/jobs')
        .set(...auth(USER_KEY))
        .send({
          space: 'proxy-28',
          deviceIds: [covered.id],
          latencyBudgetMs: 1000,
          proxy: { dataset: { kind: 'image-folder', path } },
        });
    const upload = (
      name: string,
      cls: string,
      file: string,
      bytes: Buffer,
      type = 'application/octet-stream',
    ) =>
      api
        .http()
        .post(`/v1/datasets/${name}/images?class=${cls}&file=${file}`)
        .set(...auth(USER_KEY))
        .set('Content-Type', type)
        .send(bytes);

    it('adds images one request at a time: 201, the same bytes again 200, other bytes 409; lists them', async () => {
      const first = await upload('shoes', 'boot', 'b1.png', png(10));
      expect(first.status).toBe(201);
      expect(first.body).toEqual({
        dataset: 'shoes',
        class: 'boot',
        file: 'b1.png',
        bytes: png(10).length,
        created: true,
        path: 'shoes',
      });
      const again = await upload('shoes', 'boot', 'b1.png', png(10));
      expect([again.status, again.body.created]).toEqual([200, false]);
      expectRefusal(await upload('shoes', 'boot', 'b1.png', png(11)), 409, 'file');
      expect((await upload('shoes', 'boot', 'b2.png', png(12), 'image/png')).status).toBe(201);
      expect((await upload('shoes', 'sandal', 's1.jpg', jpegBytes(200), 'image/jpeg')).status).toBe(201);
      expect((await upload('shoes', 'sandal', 's2.JPEG', jpegBytes(210))).status).toBe(201);

      expectRefusal(await upload('shoes', 'boot', 'b3.jpg', png(13)), 400, 'file');
      expectRefusal(await upload('shoes', 'boot', 'b3.png', Buffer.from('not an image')), 400, 'body');
      expectRefusal(await upload('shoes', 'boot', 'b3.png', Buffer.alloc(0)), 400, 'body');
      expectRefusal(await upload('..', 'boot', 'b3.png', png(13)), 400, 'name');
      expectRefusal(await upload('.hidden', 'boot', 'b3.png', png(13)), 400, 'name');
      const json = await api
        .http()
        .post('/v1/datasets/shoes/images?class=boot&file=b3.png')
        .set(...auth(USER_KEY))
        .send({ image: 'b3' });
      expectRefusal(json, 415, 'headers.content-type');
      const huge = await upload(
        'shoes',
        'boot',
        'big.png',
        Buffer.concat([png(1), Buffer.alloc(16 * 1024 * 1024)]),
      );
      expectRefusal(huge, 413, 'body');

      const list = await api
        .http()
        .get('/v1/datasets')
        .set(...auth(USER_KEY));
      expect(list.body).toEqual([
        {
          name: 'shoes',
          path: 'shoes',
          images: 4,
          classes: [
            { name: 'boot', images: 2 },
            { name: 'sandal', images: 2 },
          ],
        },
      ]);
      expect(readdirSync(join(api.dir, 'datasets', 'shoes', 'boot')).sort()).toEqual(['b1.png', 'b2.png']);
    });

    it('refuses an upload into a dataset folder that is a symbolic link leading outside; nothing is written there', async () => {
      symlinkSync(outside, join(api.dir, 'datasets', 'escape'));
      const res = await upload('escape', 'top-secret-class', 'b.png', png(3));
      expectRefusal(res, 400, 'name');
      expect(JSON.stringify(res.body)).not.toMatch(/outside-the-roots|top-secret/);
      expect(readdirSync(join(outside, 'top-secret-class'))).toEqual(['a.png']);
    });

    it.each([
      ['a relative path climbing out', '../../etc'],
      ['a relative path climbing out through a dataset', 'shoes/../../outside-the-roots'],
      ['an absolute path elsewhere', '/etc'],
      ['an absolute path beside the root', 'OUTSIDE'],
      ['a symbolic link inside the root leading outside', 'mirror'],
      ['a path through such a link', 'mirror/top-secret-class'],
      ['a folder that does not exist', 'no-such-dataset'],
      ['the root itself', '.'],
    ])(
      'job creation refuses %s: 400 naming proxy.dataset.path, echoing nothing outside; no job stored',
      async (_name, given) => {
        if (given.startsWith('mirror')) {
          try {
            symlinkSync(outside, join(api.dir, 'datasets', 'mirror'));
          } catch {
            // made by the other case
          }
        }
        const path = given === 'OUTSIDE' ? outside : given;
        const before = await rowCounts();
        const res = await createJob(path);
        expectRefusal(res, 400, 'proxy.dataset.path');
        const text = JSON.stringify(res.body);
        expect(text).not.toContain(api.dir);
        expect(text).not.toMatch(/top-secret|outside-the-roots|\/etc/);
        expect(await rowCounts()).toEqual(before);
      },
    );

    it('accepts a dataset under the root by its name, and the same folder by its absolute path', async () => {
      expect((await createJob('shoes')).status).toBe(202);
      expect((await createJob(join(api.dir, 'datasets', 'shoes'))).status).toBe(202);
    });
  });

  describe(`fast-check fuzz of POST /v1/devices and POST /v1/jobs bodies (seed ${FUZZ_SEED}; every route: api-fuzz.e2e-spec.ts)`, () => {
    /** What an accepted answer must hold (the shape the rest of the system relies on). */
    type Accepted = (body: Record<string, unknown>) => boolean;

    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);

    /** Near-valid and arbitrary bodies: never a 5xx; refusals name a field, leak nothing and change no row. */
    async function fuzz(route: string, valid: Json, seed: number, numRuns: number, sane: Accepted) {
      const statuses: Record<number, number> = {};
      let run = 0;
      await fc.assert(
        fc.asyncProperty(jsonBody(valid), async (generated) => {
          // a fresh device name per run, so valid bodies are not refused as duplicates
          const text = generated.replace(/"fuzz-NAME"/g, `"fuzz-${seed}-${run++}"`);
          const before = await rowCounts();
          const res = await api
            .http()
            .post(route)
            .set(...auth(USER_KEY))
            .set('Content-Type', 'application/json')
            .send(text);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(JSON.stringify(res.body)).not.toMatch(INTERNAL_TEXT);
            expect(res.body.errors?.length).toBeGreaterThan(0);
            expect(await rowCounts()).toEqual(before);
          } else {
            expect(sane(res.body)).toBe(true);
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }),
        { seed, numRuns },
      );
      return statuses;
    }

    it('POST /v1/devices: never a 5xx, refusals name a field and change no row', async () => {
      const statuses = await fuzz(
        '/v1/devices',
        { name: 'fuzz-NAME', profile: PROFILE as unknown as Json },
        FUZZ_SEED,
        250,
        (device) =>
          isObject(device.profile) && isObject(device.profile.hardware) && isObject(device.profile.runtime),
      );
      // the generator also makes valid bodies, and mostly invalid ones
      expect(statuses[201]).toBeGreaterThan(0);
      expect(statuses[400]).toBeGreaterThan(150);
      console.log(`POST /v1/devices fuzz, 250 bodies: ${JSON.stringify(statuses)}`);
    });

    it('POST /v1/jobs: never a 5xx, refusals name a field and change no row', async () => {
      const statuses = await fuzz(
        '/v1/jobs',
        validJobRequest(covered.id),
        FUZZ_SEED + 1,
        250,
        ({ input }) =>
          isObject(input) &&
          typeof input.space === 'string' &&
          isObject(input.input) &&
          isObject(input.proxy) &&
          isObject(input.proxy.dataset) &&
          ['fashion-mnist', 'synthetic'].includes(String(input.proxy.dataset.kind)) &&
          isObject(input.budget) &&
          Object.values(input.budget).every((n) => Number.isInteger(n) && (n as number) > 0) &&
          isObject(input.evaluation),
      );
      expect(statuses[202]).toBeGreaterThan(0);
      expect(statuses[400]).toBeGreaterThan(150);
      console.log(`POST /v1/jobs fuzz, 250 bodies: ${JSON.stringify(statuses)}`);
    });
  });
});

describe('API: an unexpected failure answers 500 with a request id and no internals; the log has the cause', () => {
  it('logs the cause under the request id the client sees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgenas-api-failing-'));
    const lines: string[] = [];
    const logs = new PassThrough();
    logs.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const storage = await openStorage(`sqlite:${join(dir, 'edgenas.db')}`);
    const api = await startApiForTest(PORT_FAILING, {
      storage,
      logging: { level: 'info', destination: logs },
    });
    try {
      await storage.close();
      const res = await api
        .http()
        .get('/v1/devices')
        .set(...auth(USER_KEY))
        .set('x-request-id', 'trace-500');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ statusCode: 500, requestId: 'trace-500', errors: [] });
      expect(res.body.message).toMatch(/^internal server error \(request id trace-500/);
      // the storage's own words stay in the log, under the same request id
      expect(JSON.stringify(res.body)).not.toMatch(/driver|destroyed|kysely|\.ts:/i);
      const logged = lines.map((l) => JSON.parse(l) as { requestId?: string; level?: number; msg?: string });
      expect(logged).toContainEqual(
        expect.objectContaining({
          requestId: 'trace-500',
          level: 50,
          msg: expect.stringMatching(
            /request trace-500 GET \/v1\/devices failed: .*driver has already been destroyed/,
          ),
        }),
      );
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
