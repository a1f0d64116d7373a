import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { FinalTrainingInput, ModelCard } from '@edgenas/contracts';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28 } from '@edgenas/search-space';
import { Storage, openStorage } from '@edgenas/storage';
import { CliIo, runCli } from '../apps/cli/src/cli';
import {
  PROFILE,
  USER_KEY,
  ApiTestContext,
  auth,
  startApiForTest,
  syntheticBlockRow,
} from './support/api-fixtures';
import { ScriptedJobWorkflows, scriptedJob } from './support/scripted-job';

const API_PORT = 3107;

/** A completed final model's card, as the worker would store it (numbers chosen for the assertions). */
function cardOf(input: FinalTrainingInput, deviceId: string): ModelCard {
  return {
    finalModelId: input.finalModelId,
    jobId: input.jobId,
    architectureId: input.architectureId,
    architecture: input.architecture,
    macs: 1.5e6,
    params: 120_000,
    files: { float: { bytes: 600 * 1024, sha256: 'f' }, int8: { bytes: 200 * 1024, sha256: 'i' } },
    dataset: { kind: 'synthetic', name: 'synthetic-stripes-4', trainImages: 64, valImages: 32, classes: 4 },
    geometry: {
      trainedAt: 'deployment',
      trained: 'proxy-28@28x28x1-c4',
      input: { height: 28, width: 28, channels: 1 },
      deployment: 'proxy-28',
      reason: 'r',
    },
    accuracy: { float: 0.81, int8: 0.78125, int8DropPoints: 2.875, evaluatedImages: 32, runtime: 'ORT' },
    quantization: {
      scheme: 's',
      method: 'minmax',
      chosenBy: 'held-out output error',
      calibrationImages: 24,
      heldOutImages: 8,
      weightQuantMax: 64,
      candidates: [],
      sizeRatio: 3,
      quantizedNodes: { Conv: 10 },
    },
    predictedLatencyMs: { [deviceId]: 0.42 },
    training: {
      steps: 50,
      epochs: 12.5,
      batchSize: 16,
      learningRate: null,
      augmentation: { crop: true, flip: true },
      seed: 3,
      backend: 'tensorflow',
      wallTimeMs: 1000,
      resumedFromStep: 0,
      trainerValAccuracy: 0.81,
    },
    distillation: {
      teacherArchitectureId: input.spec.distillation?.teacherArchitectureId ?? '',
      teacherArchitecture: input.spec.distillation?.teacherArchitecture ?? '',
      teacherSource: 'best-finalist',
      teacherTrained: 'trained with the same budget',
      teacherAccuracy: 0.8,
      temperature: 4,
      weight: 0.3,
      loss: 'l',
    },
    warnings: ['INT8 top-1 is 2.9 points below float (78.1 % vs 81.0 % on 32 validation images)'],
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}
const UNUSED_PORT = 3108;

/** One CLI run's output, with a way to wait for a line (the CLI polls; the test drives the job). */
class Capture {
  readonly out: string[] = [];
  readonly err: string[] = [];
  private waiters: { re: RegExp; resolve: () => void }[] = [];

  io(cwd: string, env: NodeJS.ProcessEnv = {}): CliIo {
    const push = (lines: string[]) => (line: string) => {
      lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(), false) : true));
    };
    return {
      out: push(this.out),
      err: push(this.err),
      env,
      cwd,
      progressStream: new PassThrough() as unknown as NodeJS.WriteStream,
      sleep: () => new Promise((r) => setTimeout(r, 20)),
    };
  }

  lineMatching(re: RegExp): Promise<void> {
    if ([...this.out, ...this.err].some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }

  get stdout(): string {
    return this.out.join('\n');
  }
  get stderr(): string {
    return this.err.join('\n');
  }
}

describe('edgenas CLI against the real API (real SQLite; a scripted workflow client stands in for Temporal)', () => {
  let api: ApiTestContext;
  let storage: Storage;
  let dir: string;
  const workflows = new ScriptedJobWorkflows();
  let device: { id: string; token: string };
  const base = () => ['--api', `http://127.0.0.1:${API_PORT}`, '--api-key', USER_KEY];

  async function cli(args: string[], capture = new Capture(), env: NodeJS.ProcessEnv = {}) {
    const code = await runCli([...base(), ...args], capture.io(dir, env));
    return { code, capture };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-cli-e2e-'));
    api = await startApiForTest(API_PORT, { workflows });
    storage = await openStorage(api.databaseUrl);
    device = (
      await api
        .http()
        .post('/v1/devices')
        .set(...auth(USER_KEY))
        .send({ name: 'lab-cpu', profile: PROFILE })
    ).body;
  });

  afterAll(async () => {
    await storage?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devices list prints the registered device; --json prints the API answer', async () => {
    const table = await cli(['devices', 'list']);
    expect(table.code).toBe(0);
    expect(table.capture.stdout).toContain('lab-cpu');
    expect(table.capture.stdout).toContain('E2E CPU (2 cores)');
    const json = await cli(['--json', 'devices', 'list']);
    expect(JSON.parse(json.capture.stdout)).toEqual([
      expect.objectContaining({ id: device.id, name: 'lab-cpu' }),
    ]);
  });

  it("prints the API's reason and exits 1 while the LUT cannot price the space; then shows the range", async () => {
    const early = await cli(['devices', 'latency-range', 'lab-cpu', '--space', 'proxy-28']);
    expect(early.code).toBe(1);
    expect(early.capture.stderr).toMatch(/lacks \d+ block signature\(s\) for proxy-28.*\(HTTP 409\)/s);

    const up = await api
      .http()
      .post(`/v1/devices/${device.id}/measurements`)
      .set(...auth(device.token))
      .send({ blocks: spaceSignatures(PROXY_28).map((s) => syntheticBlockRow(s)) });
    expect(up.status).toBe(200);

    const range = await cli([
      'devices',
      'latency-range',
      'lab-cpu',
      '--space',
      'proxy-28',
      '--samples',
      '50',
    ]);
    expect(range.code).toBe(0);
    expect(range.capture.stdout).toMatch(/fastest achievable/);
    expect(range.capture.stdout).toMatch(/suggested budget: [\d.]+ ms/);
    const waited = await cli(['devices', 'wait', 'lab-cpu', '--space', 'proxy-28', '--no-calibration']);
    expect(waited.code).toBe(0);
    expect(waited.capture.stdout).toContain('proxy-28 ready');
  });

  it('jobs submit --budget-ms suggested --wait: progress lines, then the front and baselines as tables', async () => {
    const started = workflows.nextStart();
    const capture = new Capture();
    const run = cli(
      [
        'jobs',
        'submit',
        '--device',
        'lab-cpu',
        '--space',
        'proxy-28',
        '--budget-ms',
        'suggested',
        '--dataset',
        'synthetic',
        '--generations',
        '2',
        '--wait',
      ],
      capture,
    );
    const jobId = await Promise.race([
      started,
      run.then(({ code }) => {
        throw new Error(`the CLI ended (${code}) before submitting: ${capture.stderr}`);
      }),
    ]);
    const input = workflows.started.at(-1) as { latencyBudgetMs: number; budget: { generations: number } };
    expect(input.budget.generations).toBe(2);
    const job = scriptedJob(device.id, input.latencyBudgetMs);
    await storage.jobs.setStatus(jobId, 'running');
    workflows.current = job.progress(1);
    await capture.lineMatching(/^generation 1\/8 scoring 32\/256/);
    await storage.models.save(jobId, job.front[0].architectureId, new Uint8Array([8, 1, 2]), 'test');
    await storage.jobs.setStatus(jobId, 'completed', { result: job.result });
    const { code } = await run;

    expect(code).toBe(0);
    expect(capture.stderr).toMatch(/lab-cpu: fastest [\d.]+ ms, median [\d.]+ ms/);
    expect(capture.stderr).toMatch(/latency budget: [\d.]+ ms/);
    expect(capture.stderr).toContain('candidates 0/');
    expect(capture.stdout).toContain(`job ${jobId} submitted (queued)`);
    expect(capture.stdout).toContain(`job ${jobId}: completed`);
    expect(capture.stdout).toContain(`${(job.front[0].accuracy * 100).toFixed(1)} % ± 1.4`);
    expect(capture.stdout).toContain('mobilenetv2-like');
    const verified = job.front[1].predictedLatencyMs;
    expect(capture.stdout).toContain(`${verified.toFixed(3)} / ${(verified * 1.1).toFixed(3)}`);
    expect(capture.stdout).toMatch(/ over/); // the baseline is over budget

    const pareto = await cli(['jobs', 'pareto', jobId, '--wide']);
    expect(pareto.capture.stdout).toContain(job.front[0].architecture);
    const list = await cli(['jobs', 'list']);
    expect(list.capture.stdout).toMatch(new RegExp(`${jobId}.*completed.*proxy-28`));
    const show = await cli(['jobs', 'show', jobId]);
    expect(show.capture.stdout).toMatch(/result: front 4 .* stopped by budget/);

    const download = await cli(['models', 'download', jobId, job.front[0].architectureId, '-o', 'm.onnx']);
    expect(download.code).toBe(0);
    expect([...readFileSync(join(dir, 'm.onnx'))]).toEqual([8, 1, 2]);
    const missing = await cli(['models', 'download', jobId, job.front[1].architectureId]);
    expect(missing.code).toBe(1);
    expect(missing.capture.stderr).toContain('no exported model for architecture');

    const cancel = await cli(['jobs', 'cancel', jobId]);
    expect(cancel.code).toBe(1);
    expect(cancel.capture.stderr).toMatch(
      new RegExp(`job ${jobId} is already completed.*\\(HTTP 409\\)`, 's'),
    );
  });

  it('final train --distill --wait prints the model card; final list, show and download; refusals are the API’s', async () => {
    const job = scriptedJob(device.id, 5);
    const jobId = 'cli-final-job';
    await storage.jobs.create({
      jobId,
      deviceIds: [device.id],
      latencyBudgetMs: 5,
      space: 'proxy-28',
      input: { height: 28, width: 28, channels: 1 },
      classes: 10,
      proxy: {
        dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 },
        epochs: 1,
        batchSize: 16,
        resolution: 28,
      },
      budget: { generations: 1, population: 2, maxTrainedCandidates: 2, wallClockSeconds: 60 },
      strategy: 'nsga2',
      seed: 3,
    });
    await storage.jobs.setStatus(jobId, 'completed', { result: job.result });
    const [student, teacher] = job.front;
    await storage.standaloneTrainings.upsert({
      jobId,
      architectureId: teacher.architectureId,
      architecture: teacher.architecture,
      seed: 3,
      purpose: 'finalist',
      accuracy: 0.8,
    });

    const capture = new Capture();
    const before = workflows.finalTrainings.length;
    const run = cli(
      [
        'final',
        'train',
        jobId,
        student.architectureId,
        ...[
          '--steps',
          '50',
          '--batch-size',
          '16',
          '--calibration',
          '32',
          '--flip',
          '--distill',
          '--alpha',
          '0.3',
        ],
        '--wait',
      ],
      capture,
    );
    await capture.lineMatching(/^final model \S+ started \(queued\)/);
    const input = workflows.finalTrainings[before];
    expect(input.spec).toEqual({
      steps: 50,
      epochs: 10,
      batchSize: 16,
      augmentation: { crop: true, flip: true },
      seed: 3,
      distillation: {
        teacherArchitectureId: teacher.architectureId,
        teacherArchitecture: teacher.architecture,
        teacherSource: 'best-finalist',
        temperature: 4,
        weight: 0.3,
      },
      calibrationImages: 32,
      precisions: ['float32', 'int8'],
    });
    const id = input.finalModelId;
    await storage.finalModels.setStatus(id, 'running');
    await storage.finalModels.setProgress(id, { phase: 'training', step: 20, totalSteps: 50, updatedAt: '' });
    await capture.lineMatching(/running: training 20\/50/);
    await storage.finalModels.saveTrained(id, new Uint8Array([1, 2, 3]), { steps: 50 });
    await storage.finalModels.complete(id, cardOf(input, device.id), new Uint8Array([4, 5]));
    const { code } = await run;
    expect(code).toBe(0);
    expect(capture.stdout).toContain('float: top-1 81.0 %, 600 KiB · INT8 (minmax): top-1 78.1 %, 200 KiB');
    expect(capture.stdout).toContain(`distilled from ${teacher.architectureId} (best-finalist`);
    expect(capture.stdout).toContain('warning: INT8 top-1 is 2.9 points below float');

    const list = await cli(['final', 'list', jobId]);
    expect(list.capture.stdout).toMatch(
      new RegExp(`${id}.*${student.architectureId}.*completed.*81\\.0 %.*78\\.1 %`),
    );
    const show = await cli(['final', 'show', jobId, id]);
    expect(show.capture.stdout).toContain(`final model ${id} of ${student.architectureId}: completed`);
    const download = await cli(['final', 'download', jobId, id, '--int8', '-o', 'final.int8.onnx']);
    expect(download.code).toBe(0);
    expect([...readFileSync(join(dir, 'final.int8.onnx'))]).toEqual([4, 5]);

    const ghost = await cli(['final', 'train', jobId, 'ghost', '--calibration', '32', '--batch-size', '16']);
    expect(ghost.code).toBe(1);
    expect(ghost.capture.stderr).toContain(`architecture "ghost" is not in job "${jobId}" (HTTP 404)`);
    const tooMany = await cli(['final', 'train', jobId, student.architectureId, '--batch-size', '16']);
    expect(tooMany.code).toBe(1);
    expect(tooMany.capture.stderr).toContain(
      'calibrationImages: 256 calibration images, but the training set has 64',
    );
  });

  it('jobs watch exits 1 with the reason when the job fails', async () => {
    const started = workflows.nextStart();
    const submitted = await cli([
      '--json',
      'jobs',
      'submit',
      '--device',
      device.id,
      '--space',
      'proxy-28',
      '--budget-ms',
      '5',
      '--dataset',
      'synthetic',
    ]);
    expect(submitted.code).toBe(0);
    const jobId = await started;
    expect(JSON.parse(submitted.capture.stdout).id).toBe(jobId);
    await storage.jobs.setStatus(jobId, 'failed', { error: 'training worker ran out of memory' });
    const watched = await cli(['jobs', 'watch', jobId]);
    expect(watched.code).toBe(1);
    expect(watched.capture.stderr).toContain(`job ${jobId} failed: training worker ran out of memory`);
  });

  it("reads a YAML request file; a refused field is the API's 400 reason, exit 1", async () => {
    writeFileSync(
      join(dir, 'job.yaml'),
      'deviceIds: [lab-cpu]\nspace: proxy-28\nlatencyBudgetMs: 5\npreset: fast\nproxy:\n  dataset: {kind: synthetic}\n',
    );
    const bad = await cli(['jobs', 'submit', 'job.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.capture.stderr).toMatch(/preset.*\(HTTP 400\)/s);

    const tooTight = await cli(['jobs', 'submit', 'job.yaml', '--preset', 'quick', '--budget-ms', '0.002']);
    expect(tooTight.code).toBe(1);
    expect(tooTight.capture.stderr).toContain('below the fastest achievable latency');
    expect(tooTight.capture.stderr).toContain('latency-range');
  });

  it('usage errors exit 2; an unknown device, a missing key or an unreachable API exit non-zero with a reason', async () => {
    const noDevice = await cli(['jobs', 'submit', '--space', 'proxy-28', '--budget-ms', '1']);
    expect(noDevice.code).toBe(2);
    expect(noDevice.capture.stderr).toContain('a job needs a target device');
    const unknown = await cli(['devices', 'latency-range', 'ghost', '--space', 'proxy-28']);
    expect(unknown.code).toBe(1);
    expect(unknown.capture.stderr).toContain('unknown device "ghost"; known devices: lab-cpu');
    const badFlag = await cli(['jobs', 'submit', '--preset', 'fast']);
    expect(badFlag.code).toBe(2);

    const noKey = new Capture();
    expect(await runCli(['--api', `http://127.0.0.1:${API_PORT}`, 'devices', 'list'], noKey.io(dir))).toBe(2);
    expect(noKey.stderr).toContain('no API key');
    const wrongKey = await cli(['--api-key', 'nope', 'devices', 'list']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.capture.stderr).toContain('(HTTP 401)');
    const down = await cli(['--api', `http://127.0.0.1:${UNUSED_PORT}`, 'devices', 'list']);
    expect(down.code).toBe(1);
    expect(down.capture.stderr).toContain(`cannot reach the EdgeNAS API at http://127.0.0.1:${UNUSED_PORT}`);
  });

  it('bin/edgenas.js runs the built CLI and reports through its exit code (needs `npm run build`)', async () => {
    const run = promisify(execFile);
    const bin = join(__dirname, '..', 'bin', 'edgenas.js');
    const env = {
      ...process.env,
      EDGENAS_API_URL: `http://127.0.0.1:${API_PORT}`,
      EDGENAS_API_KEY: USER_KEY,
    };
    const ok = await run(process.execPath, [bin, 'devices', 'list'], { env });
    expect(ok.stdout).toContain('lab-cpu');
    await expect(run(process.execPath, [bin, 'jobs', 'show', 'ghost'], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown job "ghost" (HTTP 404)'),
    });
  });
});
