/**
 * Final-training requests against the real API over HTTP on a SQLite file; jobs, candidates and retrainings are
 * written through storage, and the workflow gateway only records what it was asked to start (no Temporal here:
 * the real-stack path is in final-models.e2e-spec.ts).
 */
import { CandidateSummary, FinalTrainingInput, ModelCard, NasJobResult } from '@edgenas/contracts';
import { randomUUID } from 'node:crypto';
import {
  PROXY_28,
  createRng,
  formatArchitecture,
  resolveSpace,
  sampleArchitecture,
  stemSignature,
} from '@edgenas/search-space';
import { openStorage, Storage } from '@edgenas/storage';
import {
  ApiTestContext,
  RecordingJobWorkflows,
  PROFILE,
  USER_KEY,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';
import { tinyJobInput } from './support/job-inputs';

const API_PORT = 3130;
const ARCH = 'ir_k3_e1-ir_k3_e1-skip-skip';
/** Fits the jobs' synthetic training set of 64 images (the defaults, batch 64 and 256 calibration images, do not). */
const SMALL = { batchSize: 16, calibrationImages: 32 };

interface FinalModelBody {
  id: string;
  status: string;
  request: Record<string, unknown>;
  files: { float: string | null; int8: string | null };
  card: ModelCard | null;
}

function member(architectureId: string, accuracy: number): CandidateSummary {
  return {
    architectureId,
    architecture: `${ARCH}#${architectureId}`,
    accuracy,
    predictedLatencyMs: 1,
    predictedLatencyByDevice: { dev: 1 },
    macs: 1000,
    params: 100,
  };
}

describe('API: final training requests (storage written directly, workflow starts recorded)', () => {
  let api: ApiTestContext;
  let storage: Storage;
  let workflows: RecordingJobWorkflows;

  const post = (path: string, body: unknown = {}) =>
    api
      .http()
      .post(path)
      .set(...auth(USER_KEY))
      .send(body as object);
  const get = (path: string) =>
    api
      .http()
      .get(path)
      .set(...auth(USER_KEY));
  const fieldsOf = (body: { errors: { field: string }[] }) => body.errors.map((e) => e.field);

  beforeAll(async () => {
    workflows = new RecordingJobWorkflows();
    api = await startApiForTest(API_PORT, { workflows });
    storage = await openStorage(api.databaseUrl);
    await storage.devices.create({
      id: 'dev',
      name: 'dev',
      profile: {
        name: 'p',
        hardware: { cpuModel: 'c', cores: 1, memoryBytes: 1, os: 'linux', arch: 'x64' },
        runtime: { engine: 'onnxruntime-node', engineVersion: '1', executionProvider: 'cpu', threads: 1 },
      },
      tokenHash: 'h',
    });

    // A completed supernet job: a scored candidate, two finalists (f-best has the higher mean), a baseline.
    await storage.jobs.create(tinyJobInput('done', ['dev']));
    const result: NasJobResult = {
      front: [member('f-best', 0.8), member('f-other', 0.7)],
      searchFront: [member('f-best', 0.6)],
      baselines: [{ ...member('b-small', 0.5), baseline: 'smallest', coveredByFront: true }],
      trained: 3,
      hypervolume: 0.5,
      stoppedBy: 'budget',
    };
    await storage.jobs.setStatus('done', 'completed', { result });
    await storage.candidates.upsert({
      jobId: 'done',
      architectureId: 'c-scored',
      architecture: `${ARCH}#c-scored`,
      generation: 0,
      status: 'scored',
      accuracy: 0.4,
    });
    for (const [id, seed, accuracy] of [
      ['f-best', 7, 0.82],
      ['f-best', 8, 0.78],
      ['f-other', 7, 0.9],
      ['f-other', 8, 0.5],
    ] as const) {
      await storage.standaloneTrainings.upsert({
        jobId: 'done',
        architectureId: id,
        architecture: `${ARCH}#${id}`,
        seed,
        purpose: 'finalist',
        accuracy,
      });
    }
    await storage.standaloneTrainings.upsert({
      jobId: 'done',
      architectureId: 'b-small',
      architecture: `${ARCH}#b-small`,
      seed: 7,
      purpose: 'baseline',
      baseline: 'smallest',
      accuracy: 0.5,
    });

    // A running job and a completed standalone job without finalists.
    await storage.jobs.create(tinyJobInput('running', ['dev']));
    await storage.jobs.setStatus('running', 'running');
    await storage.candidates.upsert({
      jobId: 'running',
      architectureId: 'r1',
      architecture: `${ARCH}#r1`,
      generation: 0,
      status: 'proposed',
    });
    await storage.jobs.create(tinyJobInput('plain', ['dev'], 'standalone'));
    await storage.jobs.setStatus('plain', 'completed', {
      result: { front: [member('p1', 0.6)], trained: 1, hypervolume: 0.1, stoppedBy: 'budget' },
    });
  });

  afterAll(async () => {
    await storage?.close();
    await api?.close();
  });

  it('404 for an unknown job or an architecture the job never recorded; 409 while the job is not completed', async () => {
    const unknownJob = await post('/v1/jobs/nope/architectures/f-best/final-training');
    expect(unknownJob.status).toBe(404);
    expect(fieldsOf(unknownJob.body)).toEqual(['id']);
    const unknownArch = await post('/v1/jobs/done/architectures/ghost/final-training');
    expect(unknownArch.status).toBe(404);
    expect(fieldsOf(unknownArch.body)).toEqual(['archId']);
    const running = await post('/v1/jobs/running/architectures/r1/final-training');
    expect(running.status).toBe(409);
    expect(running.body.message).toMatch(/running.*completed job/);
    expect(workflows.finalTrainings).toHaveLength(0);
  });

  it('400 naming each field that is invalid or does not fit the job’s data', async () => {
    const bad = await post('/v1/jobs/done/architectures/f-best/final-training', {
      steps: 0,
      batchSize: 2.5,
      learningRate: -1,
      augmentation: { crop: 'yes' },
      distillation: { temperature: 0.5, weight: 2 },
      precisions: ['fp16'],
      extra: 1,
    });
    expect(bad.status).toBe(400);
    expect(new Set(fieldsOf(bad.body))).toEqual(
      new Set([
        'steps',
        'batchSize',
        'learningRate',
        'augmentation.crop',
        'distillation.temperature',
        'distillation.weight',
        'precisions',
        'extra',
      ]),
    );
    // The job's synthetic training set has 64 images.
    const tooMany = await post('/v1/jobs/done/architectures/f-best/final-training', {
      calibrationImages: 65,
      batchSize: 128,
      steps: 10,
      epochs: 2,
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'calibrationImages', reason: '65 calibration images, but the training set has 64' },
        { field: 'batchSize', reason: 'one batch of 128 is larger than the training set (64 images)' },
        { field: 'epochs', reason: 'give steps or epochs, not both' },
      ]),
    );
    // Without INT8 nothing is calibrated: any calibration size is accepted.
    const floatOnly = await post('/v1/jobs/done/architectures/f-best/final-training', {
      calibrationImages: 65,
      batchSize: 16,
      precisions: ['float32'],
    });
    expect(floatOnly.status).toBe(202);
    expect(workflows.finalTrainings).toHaveLength(1);
  });

  it('accepts any architecture the job recorded, fills the documented defaults and starts the workflow', async () => {
    workflows.finalTrainings.length = 0;
    for (const archId of ['c-scored', 'f-other', 'b-small']) {
      const res = await post(`/v1/jobs/done/architectures/${archId}/final-training`, SMALL);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'queued', architectureId: archId, card: null });
    }
    const res = await post('/v1/jobs/done/architectures/f-best/final-training', {
      batchSize: 16,
      calibrationImages: 32,
    });
    expect(res.status).toBe(202);
    const body = res.body as FinalModelBody;
    expect(body.request).toEqual({
      epochs: 10,
      batchSize: 16,
      augmentation: { crop: true, flip: false },
      seed: 7,
      calibrationImages: 32,
      precisions: ['float32', 'int8'],
    });
    expect(body.files).toEqual({ float: null, int8: null });
    const started = workflows.finalTrainings.at(-1) as FinalTrainingInput;
    expect(started).toMatchObject({
      finalModelId: body.id,
      jobId: 'done',
      architectureId: 'f-best',
      architecture: `${ARCH}#f-best`,
      deployment: { space: 'proxy-28', deviceIds: ['dev'], classes: 10 },
      geometry: { at: 'deployment', space: 'proxy-28', resolution: 28 },
    });
    expect(started.geometry.reason).toBe(
      "the deployment input 28×28×1 is the proxy geometry's: trained and exported at it",
    );
    expect(workflows.finalTrainings.map((f) => f.architectureId)).toEqual([
      'c-scored',
      'f-other',
      'b-small',
      'f-best',
    ]);
  });

  it('picks the most accurate finalist as the default teacher; a named teacher must be in the job', async () => {
    const res = await post('/v1/jobs/done/architectures/c-scored/final-training', {
      ...SMALL,
      distillation: {},
    });
    expect(res.status).toBe(202);
    // f-best: mean 0.80 over its seeds beats f-other's 0.70 (whose best seed is higher).
    expect((res.body as FinalModelBody).request.distillation).toEqual({
      teacherArchitectureId: 'f-best',
      teacherArchitecture: `${ARCH}#f-best`,
      teacherSource: 'best-finalist',
      temperature: 4,
      weight: 0.5,
    });
    const named = await post('/v1/jobs/done/architectures/c-scored/final-training', {
      ...SMALL,
      distillation: { teacher: 'b-small', temperature: 2, weight: 0.9 },
    });
    expect((named.body as FinalModelBody).request.distillation).toMatchObject({
      teacherArchitectureId: 'b-small',
      teacherSource: 'request',
      temperature: 2,
      weight: 0.9,
    });
    const ghost = await post('/v1/jobs/done/architectures/c-scored/final-training', {
      ...SMALL,
      distillation: { teacher: 'ghost' },
    });
    expect(ghost.status).toBe(404);
    expect(fieldsOf(ghost.body)).toEqual(['distillation.teacher']);
  });

  it('409 naming what is missing when a job without finalists has no completed final model to teach', async () => {
    const res = await post('/v1/jobs/plain/architectures/p1/final-training', {
      ...SMALL,
      distillation: {},
    });
    expect(res.status).toBe(409);
    expect(fieldsOf(res.body)).toEqual(['distillation.teacher']);
    expect(res.body.message).toMatch(/no finalists.*standalone.*no completed final model/);

    // Once one of its final models is completed, that model teaches.
    const first = await post('/v1/jobs/plain/architectures/p1/final-training', SMALL);
    const card = { accuracy: { float: 0.7 }, training: { steps: 1 } } as unknown as ModelCard;
    await storage.finalModels.complete(first.body.id, card, new Uint8Array([1, 2]));
    await storage.finalModels.saveTrained(first.body.id, new Uint8Array([5, 6, 7]), { steps: 1 });
    const taught = await post('/v1/jobs/plain/architectures/p1/final-training', {
      ...SMALL,
      distillation: {},
    });
    expect(taught.status).toBe(202);
    expect((taught.body as FinalModelBody).request.distillation).toMatchObject({
      teacherArchitectureId: 'p1',
      teacherSource: 'best-final-model',
    });
  });

  it('lists and shows final models; files are served once completed, 404 before; cancel of a finished one is 409', async () => {
    const list = await get('/v1/jobs/plain/final-models');
    expect(list.status).toBe(200);
    const [completed, queued] = list.body as FinalModelBody[];
    expect(completed.status).toBe('completed');
    expect(completed.files).toEqual({
      float: `/v1/jobs/plain/final-models/${completed.id}/model.onnx`,
      int8: `/v1/jobs/plain/final-models/${completed.id}/model.int8.onnx`,
    });
    const float = await get(completed.files.float as string).buffer(true);
    expect(float.status).toBe(200);
    expect([...(float.body as Buffer)]).toEqual([5, 6, 7]);
    const int8 = await get(completed.files.int8 as string).buffer(true);
    expect([...(int8.body as Buffer)]).toEqual([1, 2]);

    expect(queued.status).toBe('queued');
    const early = await get(`/v1/jobs/plain/final-models/${queued.id}/model.onnx`);
    expect(early.status).toBe(404);
    expect(early.body.message).toMatch(/queued.*once it is completed/);
    expect((await get(`/v1/jobs/plain/final-models/${queued.id}`)).body).toMatchObject({ id: queued.id });
    expect((await get(`/v1/jobs/done/final-models/${queued.id}`)).status).toBe(404);
    expect((await get('/v1/jobs/nope/final-models')).status).toBe(404);
    expect((await post(`/v1/jobs/plain/final-models/${completed.id}/cancel`)).status).toBe(409);
  });

  it("a device downloads the final model file its verification request names, with its own token only (another device's 403, other requests 404), and its answer names that file", async () => {
    const register = async (name: string) => {
      const res = await post('/v1/devices', { name, profile: PROFILE });
      expect(res.status).toBe(201);
      return res.body as { id: string; token: string };
    };
    const a = await register('file-verifier-a');
    const b = await register('file-verifier-b');
    const created = await post('/v1/jobs/plain/architectures/p1/final-training', SMALL);
    const finalId = (created.body as FinalModelBody).id;
    // Files stored, not yet completed: what the devices measure before the card is finished.
    await storage.finalModels.saveTrained(finalId, new Uint8Array([4, 2, 42]), { steps: 1 });
    const file = { finalModelId: finalId, file: 'float' as const };
    const space = 'proxy-28@28x28x1-c4';
    const FILE_ARCH = formatArchitecture(
      sampleArchitecture(resolveSpace(space), createRng(1)),
      resolveSpace(space),
    );
    await storage.verifications.create({
      id: 'v-file-a',
      deviceId: a.id,
      jobId: 'plain',
      space,
      architecture: FILE_ARCH,
      modelFile: file,
    });
    await storage.verifications.create({
      id: 'v-file-b',
      deviceId: b.id,
      jobId: 'plain',
      space,
      architecture: FILE_ARCH,
      modelFile: file,
    });
    await storage.verifications.create({
      id: 'v-arch-a',
      deviceId: a.id,
      jobId: 'plain',
      space,
      architecture: FILE_ARCH,
    });
    const asDevice = (token: string, path: string) =>
      api
        .http()
        .get(path)
        .set(...auth(token))
        .buffer(true);
    const pathOf = (deviceId: string, verificationId: string) =>
      `/v1/devices/${deviceId}/verifications/${verificationId}/model`;

    // The work lists file requests apart from architecture ones (agents that predate them never see them).
    const work = await asDevice(a.token, `/v1/devices/${a.id}/work`);
    expect(work.status).toBe(200);
    expect(work.body.verifications.map((v: { id: string }) => v.id)).toEqual(['v-arch-a']);
    expect(work.body.modelFiles).toEqual([
      {
        id: 'v-file-a',
        space,
        architecture: FILE_ARCH,
        finalModelId: finalId,
        file: 'float',
        path: pathOf(a.id, 'v-file-a'),
      },
    ]);

    const ok = await asDevice(a.token, pathOf(a.id, 'v-file-a'));
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect([...(ok.body as Buffer)]).toEqual([4, 2, 42]);
    // Another device's token on this device's route: refused before anything is looked up.
    expect((await asDevice(b.token, pathOf(a.id, 'v-file-a'))).status).toBe(403);
    // Its own route, but another device's request, an unknown one, or one that names no file: 404.
    expect((await asDevice(b.token, pathOf(b.id, 'v-file-a'))).status).toBe(404);
    expect((await asDevice(a.token, pathOf(a.id, 'v-unknown'))).status).toBe(404);
    const noFile = await asDevice(a.token, pathOf(a.id, 'v-arch-a'));
    expect(noFile.status).toBe(404);
    expect(noFile.body.errors.map((e: { field: string }) => e.field)).toEqual(['verificationId']);
    // A user key is not a device token.
    expect((await get(pathOf(a.id, 'v-file-a'))).status).toBe(403);

    // The answer names the file it measured: the request's, and only with that request.
    const { signature: _s, overheadMs: _o, ...stats } = syntheticBlockRow(stemSignature(PROXY_28));
    const upload = (row: Record<string, unknown>) =>
      api
        .http()
        .post(`/v1/devices/${a.id}/measurements`)
        .set(...auth(a.token))
        .send({ architectures: [{ ...stats, id: randomUUID(), space, architecture: FILE_ARCH, ...row }] });
    const refusals = [
      { verificationId: 'v-file-a' },
      { verificationId: 'v-file-a', modelFile: 'int8' },
      { verificationId: 'v-arch-a', modelFile: 'float' },
      { modelFile: 'float' },
    ];
    for (const row of refusals) {
      const res = await upload(row);
      expect(res.status).toBe(400);
      expect(fieldsOf(res.body)).toEqual(['architectures.0.modelFile']);
    }
    expect((await storage.verifications.get('v-file-a'))?.status).toBe('pending');
    const answered = await upload({ verificationId: 'v-file-a', modelFile: 'float' });
    expect(answered.status).toBe(200);
    expect(answered.body).toEqual({ accepted: 1, duplicates: 0 });
    const request = await storage.verifications.get('v-file-a');
    expect(request?.status).toBe('completed');
    expect(
      await storage.measurements.getArchitectureMeasurement(request?.measurementId as string),
    ).toMatchObject({
      verificationId: 'v-file-a',
      modelFile: 'float',
    });
  });
});
