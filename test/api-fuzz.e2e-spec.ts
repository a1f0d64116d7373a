/**
 * Property-based fuzzing of every HTTP route (fast-check), end to end: a real Nest app over HTTP on a real
 * SQLite file. The workflow gateway only records starts (Temporal is not the subject here). For each route,
 * near-valid mutations of a valid body, arbitrary JSON, odd path segments and odd query strings must give:
 * never a 5xx; a refusal is a 4xx JSON error body naming a field the request had (or the route's own fields)
 * with no internal text; and a refused request leaves the database, the dataset folders and the recorded
 * workflow starts as they were.
 *
 * Reproduce a run with FUZZ_SEED=<seed> (printed in the test titles); a failure prints fast-check's seed,
 * path and the shrunk counterexample.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import { PNG } from 'pngjs';
import { CandidateSummary, NasJobResult } from '@edgenas/contracts';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28 } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  RecordingJobWorkflows,
  auth,
  startApiForTest,
  UNLIMITED,
  syntheticBlockRow,
} from './support/api-fixtures';
import { tinyJobInput, validJobRequest } from './support/job-inputs';
import { Json, jsonBody, oddQuery, oddSegment } from './support/json-fuzz';

const PORT = 3140;
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
/** Runs per route: bodies get more than parameter-only routes. */
const BODY_RUNS = 200;
const PARAM_RUNS = 60;

/** Text that must never reach a client: runtime errors, driver errors, stack frames, server paths. */
const INTERNAL_TEXT =
  /TypeError|ReferenceError|RangeError|Cannot read prop|is not a function|Maximum call stack|SQLITE|constraint failed|NOT NULL|\.ts:\d+|node_modules/i;

/** Node refuses a request line above its header limit (16 KiB) before the app sees it. */
const MAX_URL = 12_000;

const ARCH =
  'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1';
const FINAL_ARCH = 'ir_k3_e1-ir_k3_e1-skip-skip';

const TABLES = [
  'devices',
  'block_measurements',
  'architecture_measurements',
  'verification_requests',
  'jobs',
  'candidates',
  'models',
  'standalone_trainings',
  'supernet_files',
  'supernet_claims',
  'final_models',
] as const;

interface Device {
  readonly id: string;
  readonly token: string;
}

/** One request of a route. */
interface RouteCase {
  readonly url: string;
  readonly token: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
}

interface FuzzRoute {
  readonly method: 'get' | 'post' | 'delete';
  /** As the OpenAPI document spells it. */
  readonly path: string;
  /** Field names a refusal may name besides the keys the request itself sent. */
  readonly fields: readonly string[];
  readonly numRuns: number;
  readonly cases: () => fc.Arbitrary<RouteCase>;
}

function png(value: number): Buffer {
  const image = new PNG({ width: 4, height: 4 });
  image.data.fill(value);
  return PNG.sync.write(image);
}

function member(architectureId: string, accuracy: number, deviceId: string): CandidateSummary {
  return {
    architectureId,
    architecture: `${FINAL_ARCH}#${architectureId}`,
    accuracy,
    predictedLatencyMs: 1,
    predictedLatencyByDevice: { [deviceId]: 1 },
    macs: 1000,
    params: 100,
  };
}

/** Keys of a JSON object text (what a refusal of an unknown property may name). */
function jsonKeys(text: string | Buffer | undefined): string[] {
  if (typeof text !== 'string') return [];
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  } catch {
    return [];
  }
}

function queryKeys(url: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  return url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const raw = part.split('=')[0].replace(/\+/g, ' ');
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(`${relative(dir, path)}:${statSync(path).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

describe(`API fuzz of every route (fast-check, seed ${SEED}; real Nest app over HTTP, real SQLite file, workflow starts recorded instead of Temporal)`, () => {
  let api: ApiTestContext;
  let db: Storage;
  let workflows: RecordingJobWorkflows;
  let covered: Device;
  /** Its token may be re-issued by the fuzz of POST /v1/devices/:id/token. */
  let spare: Device;
  let queuedJobId: string;
  let finalModelId: string;
  let datasetsDir: string;

  beforeAll(async () => {
    workflows = new RecordingJobWorkflows();
    // Thousands of requests under one key: the rate limit is test/api-keys.e2e-spec.ts's subject, not this one's.
    api = await startApiForTest(PORT, { workflows, rateLimit: UNLIMITED });
    db = await openStorage(api.databaseUrl);
    datasetsDir = join(api.dir, 'datasets');
    mkdirSync(join(datasetsDir, 'shoes', 'boot'), { recursive: true });
    writeFileSync(join(datasetsDir, 'shoes', 'boot', 'a.png'), png(1));

    const register = async (name: string) => {
      const res = await api
        .http()
        .post('/v1/devices')
        .set(...auth(USER_KEY))
        .send({ name, profile: PROFILE });
      expect(res.status).toBe(201);
      return res.body as Device;
    };
    covered = await register('covered');
    spare = await register('spare');
    const up = await api
      .http()
      .post(`/v1/devices/${covered.id}/measurements`)
      .set(...auth(covered.token))
      .send({ blocks: spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s)) });
    expect(up.status).toBe(200);

    const job = await api
      .http()
      .post('/v1/jobs')
      .set(...auth(USER_KEY))
      .send({ space: 'proxy-28', deviceIds: [covered.id], latencyBudgetMs: 1000 });
    expect(job.status).toBe(202);
    queuedJobId = job.body.id;

    // a completed job with a front, finalists and a baseline: final training can be asked for
    await db.jobs.create(tinyJobInput('done', [covered.id]));
    const result: NasJobResult = {
      front: [member('f-best', 0.8, covered.id), member('f-other', 0.7, covered.id)],
      searchFront: [member('f-best', 0.6, covered.id)],
      baselines: [{ ...member('b-small', 0.5, covered.id), baseline: 'smallest', coveredByFront: true }],
      trained: 3,
      hypervolume: 0.5,
      stoppedBy: 'budget',
    };
    await db.jobs.setStatus('done', 'completed', { result });
    for (const [id, seed, accuracy] of [
      ['f-best', 7, 0.82],
      ['f-best', 8, 0.78],
      ['f-other', 7, 0.9],
      ['f-other', 8, 0.5],
    ] as const) {
      await db.standaloneTrainings.upsert({
        jobId: 'done',
        architectureId: id,
        architecture: `${FINAL_ARCH}#${id}`,
        seed,
        purpose: 'finalist',
        accuracy,
      });
    }
    await db.models.save(
      'done',
      'f-best',
      Uint8Array.from([8, 1, 18, 4]),
      'not a real model: bytes to download',
    );
    await db.candidates.upsert({
      jobId: 'done',
      architectureId: 'c-scored',
      architecture: `${FINAL_ARCH}#c-scored`,
      generation: 0,
      status: 'scored',
      accuracy: 0.4,
    });
    const final = await api
      .http()
      .post('/v1/jobs/done/architectures/f-best/final-training')
      .set(...auth(USER_KEY))
      .send({ batchSize: 16, calibrationImages: 32 });
    expect(final.status).toBe(202);
    finalModelId = final.body.id;
  });

  afterAll(async () => {
    await db?.close();
    await api?.close();
  });

  /** What a refused request must not change: every table, the dataset folders, the recorded workflow starts. */
  async function snapshot(): Promise<Record<string, string>> {
    const state: Record<string, string> = {};
    for (const table of TABLES) {
      const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
        db.handle.db,
      );
      const lines = rows.map((r) => JSON.stringify(r)).sort();
      state[table] =
        `${rows.length} rows, ${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
    }
    state.datasets = filesUnder(datasetsDir).join(', ');
    state.workflows = `${workflows.started.length} jobs, ${workflows.finalTrainings.length} final trainings`;
    return state;
  }

  function send(method: FuzzRoute['method'], c: RouteCase) {
    const req = api
      .http()
      [method](c.url)
      .timeout(60_000)
      .set(...auth(c.token));
    if (c.body === undefined) return req;
    return req.set('Content-Type', c.contentType ?? 'application/json').send(c.body);
  }

  const statuses: Record<string, Record<number, number>> = {};

  async function checkRoute(route: FuzzRoute, seed: number): Promise<void> {
    const seen: Record<number, number> = (statuses[`${route.method.toUpperCase()} ${route.path}`] = {});
    const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const allowed = [...route.fields, ...pathParams, 'path', 'headers.authorization', 'headers.content-type'];
    await fc.assert(
      fc.asyncProperty(
        route.cases().filter((c) => c.url.length < MAX_URL),
        async (c) => {
          const before = await snapshot();
          const res = await send(route.method, c);
          seen[res.status] = (seen[res.status] ?? 0) + 1;
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers['content-type']).toMatch(/^application\/json/);
            const body = res.body as { statusCode?: unknown; message?: unknown; errors?: unknown };
            expect(body.statusCode).toBe(res.status);
            expect(typeof body.message).toBe('string');
            expect(Array.isArray(body.errors) && body.errors.length > 0).toBe(true);
            const names = [...allowed, ...jsonKeys(c.body), ...queryKeys(c.url)];
            for (const e of body.errors as { field?: unknown; reason?: unknown }[]) {
              expect(typeof e.reason).toBe('string');
              const field = String(e.field);
              const named = names.some(
                (n) => field === n || field.startsWith(`${n}.`) || field.startsWith(`${n}[`),
              );
              expect([field, named]).toEqual([field, true]);
            }
            expect(JSON.stringify(body)).not.toMatch(INTERNAL_TEXT);
            expect(await snapshot()).toEqual(before);
          }
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { seed, numRuns: route.numRuns },
    );
  }

  // Valid parts the arbitraries start from (known once the fixture ran).
  const deviceIds = () => [covered.id, spare.id, 'no-such-device'];
  const jobIds = () => ['done', queuedJobId, 'no-such-job'];
  const archIds = ['f-best', 'f-other', 'b-small', 'c-scored', 'ghost'];
  const userToken = () =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(USER_KEY) },
      fc.constantFrom(covered.token, 'not-a-key', 'a b'),
    );
  const deviceToken = () =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(covered.token) },
      fc.constantFrom(USER_KEY, spare.token, 'not-a-token'),
    );

  /** A route with only path parameters and a query (no body). */
  function paramsRoute(
    method: FuzzRoute['method'],
    path: string,
    url: (p: Record<string, string>) => string,
    params: () => Record<string, readonly string[]>,
    query: Record<string, string> = {},
    token: () => fc.Arbitrary<string> = userToken,
  ): FuzzRoute {
    return {
      method,
      path,
      fields: [...Object.keys(query)],
      numRuns: PARAM_RUNS,
      cases: () =>
        fc
          .record({
            params: fc.record(
              Object.fromEntries(Object.entries(params()).map(([k, valid]) => [k, oddSegment(valid)])),
            ),
            query: oddQuery(query),
            token: token(),
          })
          .map(({ params: p, query: q, token: t }) => ({ url: `${url(p)}${q}`, token: t })),
    };
  }

  /** A route with a JSON body (and path parameters). */
  function bodyRoute(
    path: string,
    url: (p: Record<string, string>) => string,
    params: () => Record<string, readonly string[]>,
    valid: () => Json,
    fields: readonly string[],
    token: () => fc.Arbitrary<string> = userToken,
  ): FuzzRoute {
    return {
      method: 'post',
      path,
      fields: [...fields, 'body'],
      numRuns: BODY_RUNS,
      cases: () =>
        fc
          .record({
            params: fc.record(
              Object.fromEntries(
                Object.entries(params()).map(([k, validValues]) => [
                  k,
                  // mostly the valid value, so the body reaches its checks
                  fc.oneof({ weight: 5, arbitrary: fc.constant(validValues[0]) }, oddSegment(validValues)),
                ]),
              ),
            ),
            body: jsonBody(valid()),
            token: token(),
          })
          .map(({ params: p, body, token: t }) => ({ url: url(p), body, token: t })),
    };
  }

  const GEOMETRY_FIELDS = ['space', 'input', 'classes'];
  const ROUTES: FuzzRoute[] = [
    paramsRoute(
      'get',
      '/v1/health',
      () => '/v1/health',
      () => ({}),
      { verbose: '1' },
    ),
    paramsRoute(
      'get',
      '/health/live',
      () => '/health/live',
      () => ({}),
    ),
    paramsRoute(
      'get',
      '/health/ready',
      () => '/health/ready',
      () => ({}),
    ),
    paramsRoute(
      'get',
      '/metrics',
      () => '/metrics',
      () => ({}),
    ),
    // the dashboard's routes are left out of the OpenAPI document
    paramsRoute(
      'get',
      '/',
      () => '/',
      () => ({}),
    ),
    paramsRoute(
      'get',
      '/ui',
      () => '/ui',
      () => ({}),
    ),
    paramsRoute(
      'get',
      '/ui/{file}',
      (p) => `/ui/${p.file}`,
      () => ({ file: ['index.html', 'app.mjs'] }),
    ),
    paramsRoute(
      'get',
      '/ui/vendor/{file}',
      (p) => `/ui/vendor/${p.file}`,
      () => ({ file: ['d3.js', 'plot.js'] }),
    ),
    bodyRoute(
      '/v1/devices',
      () => '/v1/devices',
      () => ({}),
      () => ({ name: 'fuzzed', profile: PROFILE as unknown as Json }),
      ['name', 'profile'],
    ),
    paramsRoute(
      'get',
      '/v1/devices',
      () => '/v1/devices',
      () => ({}),
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}',
      (p) => `/v1/devices/${p.id}`,
      () => ({ id: deviceIds() }),
    ),
    paramsRoute(
      'post',
      '/v1/devices/{id}/token',
      (p) => `/v1/devices/${p.id}/token`,
      () => ({ id: [spare.id, 'no-such-device'] }),
    ),
    bodyRoute(
      '/v1/devices/{id}/measurements',
      (p) => `/v1/devices/${p.id}/measurements`,
      () => ({ id: [covered.id, spare.id] }),
      () => {
        const [sig] = spaceSignatures(PROXY_28);
        const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(sig, { id: 'fuzz-block-1' });
        return {
          blocks: [syntheticBlockRow(sig, { id: 'fuzz-block-1' }) as unknown as Json],
          architectures: [{ ...stats, id: 'fuzz-arch-1', space: 'proxy-28', architecture: ARCH } as Json],
        };
      },
      ['id', 'blocks', 'architectures'],
      deviceToken,
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}/lut',
      (p) => `/v1/devices/${p.id}/lut`,
      () => ({ id: deviceIds() }),
      { space: 'proxy-28', input: '28x28x1', classes: '10' },
      () => fc.oneof(userToken(), deviceToken()),
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}/lut/missing',
      (p) => `/v1/devices/${p.id}/lut/missing`,
      () => ({ id: deviceIds() }),
      { space: 'proxy-28', input: '28x28x1', classes: '10' },
      () => fc.oneof(userToken(), deviceToken()),
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}/work',
      (p) => `/v1/devices/${p.id}/work`,
      () => ({ id: [covered.id, spare.id] }),
      { space: 'proxy-28,fbnet-224@96x96x3-c10' },
      deviceToken,
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}/verifications/{verificationId}/model',
      (p) => `/v1/devices/${p.id}/verifications/${p.verificationId}/model`,
      () => ({ id: [covered.id, spare.id], verificationId: ['fuzz-no-such-request'] }),
      {},
      deviceToken,
    ),
    paramsRoute(
      'get',
      '/v1/devices/{id}/latency-range',
      (p) => `/v1/devices/${p.id}/latency-range`,
      () => ({ id: deviceIds() }),
      { space: 'proxy-28', input: '28x28x1', classes: '10', samples: '20', seed: '3' },
    ),
    bodyRoute(
      '/v1/latency/predict',
      () => '/v1/latency/predict',
      () => ({}),
      () => ({
        deviceId: covered.id,
        space: 'proxy-28',
        input: { height: 28, width: 28, channels: 1 },
        classes: 10,
        architecture: ARCH,
        allowEstimates: true,
      }),
      ['deviceId', 'architecture', 'allowEstimates', ...GEOMETRY_FIELDS],
    ),
    bodyRoute(
      '/v1/jobs',
      () => '/v1/jobs',
      () => ({}),
      () => validJobRequest(covered.id),
      [
        ...GEOMETRY_FIELDS,
        'deviceIds',
        'latencyBudgetMs',
        'proxy',
        'budget',
        'strategy',
        'precision',
        'preset',
        'evaluation',
        'seed',
      ],
    ),
    paramsRoute(
      'get',
      '/v1/jobs',
      () => '/v1/jobs',
      () => ({}),
      { limit: '5' },
    ),
    paramsRoute(
      'get',
      '/v1/jobs/{id}',
      (p) => `/v1/jobs/${p.id}`,
      () => ({ id: jobIds() }),
    ),
    paramsRoute(
      'post',
      '/v1/jobs/{id}/cancel',
      (p) => `/v1/jobs/${p.id}/cancel`,
      () => ({ id: jobIds() }),
    ),
    paramsRoute(
      'get',
      '/v1/jobs/{id}/pareto',
      (p) => `/v1/jobs/${p.id}/pareto`,
      () => ({ id: jobIds() }),
    ),
    paramsRoute(
      'get',
      '/v1/jobs/{id}/candidates',
      (p) => `/v1/jobs/${p.id}/candidates`,
      () => ({ id: jobIds() }),
      { status: 'scored' },
    ),
    paramsRoute(
      'get',
      '/v1/jobs/{id}/architectures/{archId}/model.onnx',
      (p) => `/v1/jobs/${p.id}/architectures/${p.archId}/model.onnx`,
      () => ({ id: jobIds(), archId: archIds }),
    ),
    bodyRoute(
      '/v1/jobs/{id}/architectures/{archId}/final-training',
      (p) => `/v1/jobs/${p.id}/architectures/${p.archId}/final-training`,
      () => ({ id: jobIds(), archId: archIds }),
      () => ({
        steps: 3,
        batchSize: 16,
        learningRate: 0.01,
        augmentation: { crop: true, flip: false },
        seed: 1,
        distillation: { teacher: 'f-other', temperature: 4, weight: 0.5 },
        calibrationImages: 32,
        precisions: ['float32', 'int8'],
      }),
      [
        'id',
        'archId',
        'steps',
        'epochs',
        'batchSize',
        'learningRate',
        'augmentation',
        'seed',
        'distillation',
        'calibrationImages',
        'precisions',
      ],
    ),
    paramsRoute(
      'get',
      '/v1/jobs/{id}/final-models',
      (p) => `/v1/jobs/${p.id}/final-models`,
      () => ({ id: jobIds() }),
    ),
    ...(['', '/model.onnx', '/model.int8.onnx'] as const).map((tail) =>
      paramsRoute(
        'get',
        `/v1/jobs/{id}/final-models/{finalId}${tail}`,
        (p) => `/v1/jobs/${p.id}/final-models/${p.finalId}${tail}`,
        () => ({ id: jobIds(), finalId: [finalModelId, 'no-such-model'] }),
      ),
    ),
    paramsRoute(
      'post',
      '/v1/jobs/{id}/final-models/{finalId}/cancel',
      (p) => `/v1/jobs/${p.id}/final-models/${p.finalId}/cancel`,
      () => ({ id: jobIds(), finalId: [finalModelId, 'no-such-model'] }),
    ),
    paramsRoute(
      'get',
      '/v1/keys',
      () => '/v1/keys',
      () => ({}),
    ),
    bodyRoute(
      '/v1/keys',
      () => '/v1/keys',
      () => ({}),
      () => ({ name: 'fuzz-key' }),
      ['name'],
    ),
    // The configured key (env-1) cannot be revoked through the API: a 409 that must change nothing.
    paramsRoute(
      'delete',
      '/v1/keys/{id}',
      (p) => `/v1/keys/${p.id}`,
      () => ({ id: ['env-1', 'no-such-key'] }),
    ),
    paramsRoute(
      'get',
      '/v1/datasets',
      () => '/v1/datasets',
      () => ({}),
    ),
    {
      method: 'post',
      path: '/v1/datasets/{name}/images',
      fields: ['name', 'class', 'file', 'body'],
      numRuns: BODY_RUNS,
      cases: () =>
        fc
          .record({
            name: oddSegment(['shoes', 'fuzz-set']),
            query: oddQuery({ class: 'boot', file: 'b.png' }),
            body: fc.oneof(
              fc.constant(png(7)),
              fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
              fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
                const bytes = Buffer.from(png(9));
                bytes[at % bytes.length] = byte;
                return bytes;
              }),
              fc.constant(Buffer.alloc(0)),
            ),
            contentType: fc.constantFrom(
              'image/png',
              'application/octet-stream',
              'image/jpeg',
              'IMAGE/PNG; charset=binary',
              'application/json',
              'text/plain',
              'multipart/form-data; boundary=x',
            ),
            token: userToken(),
          })
          .map(({ name, query, body, contentType, token }) => ({
            url: `/v1/datasets/${name}/images${query}`,
            body,
            contentType,
            token,
          })),
    },
  ];

  describe('counterexamples the fuzz found, kept as plain cases', () => {
    const post = (url: string, text: string) =>
      api
        .http()
        .post(url)
        .set(...auth(USER_KEY))
        .set('Content-Type', 'application/json')
        .send(text);
    const fieldsOf = (body: { errors: { field: string }[] }) => body.errors.map((e) => e.field);

    it('a JSON list as the body is a 400 naming the body (not its indices as unknown fields); nothing stored', async () => {
      const before = await snapshot();
      const res = await post('/v1/devices', JSON.stringify([{ name: 'in-a-list', profile: PROFILE }]));
      expect([res.status, fieldsOf(res.body)]).toEqual([400, ['body']]);
      expect(res.body.errors[0].reason).toBe('must be a JSON object, not a list');
      expect(fieldsOf((await post('/v1/jobs', '[{}]')).body)).toEqual(['body']);
      expect(fieldsOf((await post('/v1/jobs/done/architectures/f-best/final-training', '[]')).body)).toEqual([
        'body',
      ]);
      expect(await snapshot()).toEqual(before);
    });

    it('a NUL character in a path, query or body value is a 400 naming it (PostgreSQL text cannot hold one); nothing stored', async () => {
      const before = await snapshot();
      const byPath = await api
        .http()
        .get(`/v1/devices/${covered.id}%00`)
        .set(...auth(USER_KEY));
      expect([byPath.status, fieldsOf(byPath.body)]).toEqual([400, ['id']]);
      const jobPath = await api
        .http()
        .get('/v1/jobs/done%00/final-models')
        .set(...auth(USER_KEY));
      expect([jobPath.status, fieldsOf(jobPath.body)]).toEqual([400, ['id']]);
      const body = await post('/v1/devices', JSON.stringify({ name: 'nul\u0000name', profile: PROFILE }));
      expect([body.status, fieldsOf(body.body)]).toEqual([400, ['name']]);
      expect(await snapshot()).toEqual(before);
    });

    it('a body nested thousands deep is a 400 naming where it goes too deep, not a 500 (stack overflow)', async () => {
      const nested = (depth: number, leaf: string) => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
      const before = await snapshot();
      const name = await post(
        '/v1/devices',
        `{"name":${nested(2000, '1')},"profile":${JSON.stringify(PROFILE)}}`,
      );
      expect(name.status).toBe(400);
      expect(fieldsOf(name.body)).toEqual([`name${'.0'.repeat(31)}`]);
      expect(name.body.errors[0].reason).toBe('nested deeper than 32 levels');
      const unknown = await post(
        `/v1/devices/${covered.id}/measurements`,
        `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
      ).set(...auth(covered.token));
      expect([unknown.status, fieldsOf(unknown.body)[0].split('.').length]).toEqual([400, 32]);
      // a job body as deep as a real one still passes the depth check
      const job = await post(
        '/v1/jobs',
        JSON.stringify({
          space: 'proxy-28',
          deviceIds: [covered.id],
          latencyBudgetMs: 1000,
          evaluation: { supernet: { steps: 2 } },
          proxy: { dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 } },
        }),
      );
      expect(job.status).toBe(202);
      expect({ ...(await snapshot()), jobs: before.jobs, workflows: before.workflows }).toEqual(before);
    });

    it('an undecodable path parameter is a 400 naming the path, not the body', async () => {
      for (const url of ['/v1/devices/%ED%A0%80', '/v1/jobs/%ZZ/pareto', '/v1/jobs/done/final-models/%']) {
        const res = await api
          .http()
          .get(url)
          .set(...auth(USER_KEY));
        expect([url, res.status, fieldsOf(res.body)]).toEqual([url, 400, ['path']]);
      }
    });

    it('an unknown dashboard file is a 404 naming the file', async () => {
      const res = await api.http().get('/ui/%20');
      expect([res.status, fieldsOf(res.body)]).toEqual([404, ['file']]);
      const vendor = await api.http().get('/ui/vendor/react.js');
      expect([vendor.status, fieldsOf(vendor.body)]).toEqual([404, ['file']]);
    });
  });

  it('covers every route of the OpenAPI document the app serves', async () => {
    const res = await api.http().get('/docs-json');
    expect(res.status).toBe(200);
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const fuzzed = ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(documented.filter((r) => !fuzzed.includes(r))).toEqual([]);
  });

  it.each(ROUTES.map((route, i) => [`${route.method.toUpperCase()} ${route.path}`, route, i] as const))(
    '%s: never a 5xx; refusals are JSON 4xx naming a field, and change nothing',
    async (name, route, i) => {
      const started = Date.now();
      await checkRoute(route, SEED + i);
      console.log(
        `${name}: ${route.numRuns} runs in ${Date.now() - started} ms, statuses ${JSON.stringify(statuses[name])}`,
      );
    },
  );
});
