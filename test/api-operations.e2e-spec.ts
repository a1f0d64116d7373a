import { PassThrough } from 'node:stream';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28 } from '@edgenas/search-space';
import { openStorage } from '@edgenas/storage';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';
import { tinyJobInput } from './support/job-inputs';
import { TemporalDevServer, startTemporalDevServer } from './support/temporal-server';

const API_PORT = 3103;
const API_DOWN_PORT = 3104;
const TEMPORAL_PORT = 7320;
/** Nothing listens here: Temporal is "down" for the second suite. */
const UNUSED_TEMPORAL_PORT = 7329;

/** A value of one sample line of the exposition text (`name{labels} value`), or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split('}')[0];
    if (want.every((w) => labelText.includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('API operations: health, metrics and JSON logs (real Temporal dev server, real SQLite)', () => {
  let temporal: TemporalDevServer;
  let api: ApiTestContext;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    temporal = await startTemporalDevServer(TEMPORAL_PORT);
    const logs = new PassThrough();
    let pending = '';
    logs.on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString()).split('\n');
      pending = parts.pop() ?? '';
      for (const p of parts) if (p.trim() !== '') logLines.push(JSON.parse(p) as Record<string, unknown>);
    });
    api = await startApiForTest(API_PORT, {
      temporal: { address: temporal.address, namespace: temporal.namespace },
      logging: { level: 'info', destination: logs },
    });
  });

  afterAll(async () => {
    await api?.close();
    await temporal?.stop();
  });

  it('GET /health/live and /health/ready answer 200 without credentials, naming database and temporal', async () => {
    const live = await api.http().get('/health/live');
    expect(live.status).toBe(200);
    expect(live.body.status).toBe('ok');
    const ready = await api.http().get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, temporal: { status: 'up' } },
    });
    expect((await api.http().get('/v1/health')).body).toEqual({ status: 'ok' });
  });

  it('GET /metrics: HTTP latency by route, jobs by status, measurements ingested, LUT coverage', async () => {
    const device = await api
      .http()
      .post('/v1/devices')
      .set(...auth(USER_KEY))
      .send({ name: 'm1', profile: PROFILE });
    expect(device.status).toBe(201);
    const signatures = spaceSignatures(PROXY_28);
    const upload = await api
      .http()
      .post(`/v1/devices/${device.body.id}/measurements`)
      .set(...auth(device.body.token))
      .send({ blocks: signatures.slice(0, 10).map((s) => syntheticBlockRow(s)) });
    expect(upload.body).toEqual({ accepted: 10, duplicates: 0 });
    await api
      .http()
      .get(`/v1/devices/${device.body.id}`)
      .set(...auth(USER_KEY));
    await api
      .http()
      .get('/v1/no-such-route')
      .set(...auth(USER_KEY));

    const res = await api.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const text = res.text;
    expect(
      sample(text, 'edgenas_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/devices/:id/measurements',
        status_code: '200',
      }),
    ).toBe(1);
    expect(
      sample(text, 'edgenas_http_request_duration_seconds_count', {
        route: '/v1/devices/:id',
        method: 'GET',
      }),
    ).toBe(1);
    // unknown paths share one label instead of one series each
    expect(sample(text, 'edgenas_http_request_duration_seconds_count', { route: 'unmatched' })).toBe(1);
    expect(sample(text, 'edgenas_jobs', { status: 'running' })).toBe(0);
    expect(sample(text, 'edgenas_measurements_ingested', { kind: 'block' })).toBe(10);
    expect(sample(text, 'edgenas_measurements_ingested', { kind: 'architecture' })).toBe(0);
    const distinct = new Set(signatures.map((s) => JSON.stringify(s))).size;
    expect(sample(text, 'edgenas_lut_coverage_ratio', { device: 'm1', space: 'proxy-28' })).toBeCloseTo(
      10 / distinct,
      6,
    );
    expect(sample(text, 'edgenas_lut_coverage_ratio', { device: 'm1', space: 'fbnet-224' })).toBe(0);

    // a job's deployment geometry gets its own coverage series
    const storage = await openStorage(api.databaseUrl);
    try {
      await storage.jobs.create(
        tinyJobInput('geometry-job', [device.body.id], 'omitted', {
          space: 'fbnet-224',
          input: { height: 96, width: 96, channels: 3 },
          strategy: 'random',
          seed: 1,
        }),
      );
    } finally {
      await storage.close();
    }
    const after = (await api.http().get('/metrics')).text;
    expect(sample(after, 'edgenas_jobs', { status: 'queued' })).toBe(1);
    expect(
      sample(after, 'edgenas_lut_coverage_ratio', { device: 'm1', space: 'fbnet-224@96x96x3-c10' }),
    ).toBe(0);
    expect(text).toContain('edgenas_api_process_cpu_seconds_total');
  });

  it('logs one JSON line per request with its request id (given or generated), never the API key', async () => {
    const res = await api
      .http()
      .get('/v1/devices')
      .set(...auth(USER_KEY))
      .set('x-request-id', 'trace-abc.1');
    expect(res.headers['x-request-id']).toBe('trace-abc.1');
    const generated = await api
      .http()
      .get('/v1/jobs')
      .set(...auth(USER_KEY));
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const line = logLines.find((l) => l.requestId === 'trace-abc.1');
    expect(line).toMatchObject({
      service: 'edgenas-api',
      msg: 'request completed',
      res: { statusCode: 200 },
    });
    expect(logLines.some((l) => l.requestId === generated.headers['x-request-id'])).toBe(true);
    expect(JSON.stringify(logLines)).not.toContain(USER_KEY);
    // probes and scrapes are not logged
    const requestUrls = logLines.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    expect(requestUrls).toContain('/v1/jobs');
    expect(requestUrls.filter((u) => u === '/metrics' || u?.startsWith('/health'))).toEqual([]);
  });
});

describe('API operations: readiness while Temporal is unreachable (nothing listens on its address)', () => {
  let api: ApiTestContext;

  beforeAll(async () => {
    api = await startApiForTest(API_DOWN_PORT, {
      temporal: { address: `127.0.0.1:${UNUSED_TEMPORAL_PORT}` },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('GET /health/ready answers 503 naming temporal; the database is up and liveness stays 200', async () => {
    const ready = await api.http().get('/health/ready');
    expect(ready.status).toBe(503);
    // no credentials here: the cause (address, driver message) stays in the server log
    expect(ready.body.errors).toEqual([
      { field: 'temporal', reason: 'not answering (the server log has the cause)' },
    ]);
    expect(JSON.stringify(ready.body)).not.toContain(String(UNUSED_TEMPORAL_PORT));
    expect(ready.body.message).toMatch(/^not ready: temporal/);
    expect(ready.body.details.database).toEqual({ status: 'up' });
    expect((await api.http().get('/health/live')).status).toBe(200);
  });
});
