/**
 * @jest-environment ./libs/search-space/src/onnx/ort-jest-environment.js
 */
/**
 * The `edgenas` CLI on the real stack: real Temporal dev server, real API over HTTP on SQLite, the worker as its
 * own process training for real, the device agent benchmarking with ONNX Runtime (and answering the jobs'
 * verification requests). Synthetic data and tiny budgets keep the jobs to a minute or two.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { stringify as toYaml } from 'yaml';
import { BaselineSummary, CandidateSummary, NasJobResult } from '@edgenas/contracts';
import { describeDevice } from '@edgenas/device-benchmark';
import { PROXY_28 } from '@edgenas/search-space';
import { CliIo, formatMs, runCli } from '../apps/cli/src/cli';
import {
  API_KEY,
  JobsStack,
  TestAgent,
  createTestAgent,
  freePort,
  startJobsStack,
  waitFor,
} from './support/jobs-stack';
import { childPids } from './support/jobs-worker-process';

jest.setTimeout(300_000);

const PORTS = { api: [3340, 3349], temporal: [7350, 7354] } as const;

/** A supernet job small enough for a test: a few subnets, 2 finalists × 2 seeds, the 4 baselines. */
const TINY_JOB = {
  preset: 'quick',
  seed: 5,
  proxy: { dataset: { kind: 'synthetic', trainSize: 64, valSize: 32 }, batchSize: 16 },
  budget: { generations: 2, population: 4, maxTrainedCandidates: 8 },
  evaluation: {
    mode: 'supernet',
    supernet: { steps: 12, batchSize: 16, recalibrationBatches: 2, scoreImages: 32 },
    finalists: { count: 2, seeds: 2, steps: 3, batchSize: 16 },
    baselines: true,
  },
};

/** One CLI run's output. */
class Capture {
  readonly out: string[] = [];
  readonly err: string[] = [];

  io(cwd: string, env: NodeJS.ProcessEnv = {}): CliIo {
    return {
      out: (line) => this.out.push(line),
      err: (line) => this.err.push(line),
      env,
      cwd,
      progressStream: new PassThrough() as unknown as NodeJS.WriteStream,
    };
  }

  get stdout(): string {
    return this.out.join('\n');
  }
  get stderr(): string {
    return this.err.join('\n');
  }
}

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly result?: NasJobResult | null;
  readonly progress?: { readonly activity?: string } | null;
}

interface ParetoView {
  readonly latencyBudgetMs: number;
  readonly front: CandidateSummary[];
  readonly baselines: BaselineSummary[];
}

describe('edgenas CLI on the real stack (Temporal dev server, API, worker process, SQLite, device agent)', () => {
  let stack: JobsStack;
  let agent: TestAgent;
  let dir: string;
  let deviceId: string;
  let agentRunning = true;
  let agentLoop: Promise<void> | undefined;
  /** The job `jobs submit --wait` completed, and its front (later tests train from it). */
  let completed: { jobId: string; front: CandidateSummary[] } | undefined;
  const base = () => ['--api', stack.apiUrl, '--api-key', API_KEY, '--interval', '500'];

  async function cli(args: string[], capture = new Capture(), env: NodeJS.ProcessEnv = {}) {
    const code = await runCli([...base(), ...args], capture.io(dir, env));
    return { code, capture };
  }

  const writeRequest = (name: string, body: Record<string, unknown>) =>
    writeFileSync(join(dir, name), toYaml(body));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-cli-e2e-'));
    stack = await startJobsStack(PORTS);
    agent = createTestAgent(stack, 'lab-cpu', [PROXY_28]);
    const first = await agent.pass();
    expect(first.online).toBe(true);
    deviceId = first.deviceId as string;
    // A second device, registered but never measured: its LUT cannot price anything.
    const spare = await stack.http('POST', '/v1/devices', {
      name: 'spare-cpu',
      profile: describeDevice('spare-cpu', 1),
    });
    expect(spare.status).toBe(201);
    await stack.startWorker({ trainingConcurrency: 2, verificationTimeoutSeconds: 60 });
    // The agent keeps running, as it would on the device: it answers the jobs' verification requests.
    agentLoop = (async () => {
      while (agentRunning) {
        await agent.pass();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  });

  afterAll(async () => {
    agentRunning = false;
    await agentLoop;
    agent?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devices list prints the registered devices; --json prints the API answer', async () => {
    const table = await cli(['devices', 'list']);
    expect(table.code).toBe(0);
    expect(table.capture.stdout).toContain('lab-cpu');
    expect(table.capture.stdout).toContain('spare-cpu');
    expect(table.capture.stdout).toContain('onnxruntime-node cpu 1t');
    const json = await cli(['--json', 'devices', 'list']);
    expect(JSON.parse(json.capture.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: deviceId, name: 'lab-cpu' }),
        expect.objectContaining({ name: 'spare-cpu' }),
      ]),
    );
  });

  it("latency-range prints the API's reason and exits 1 for a device whose LUT cannot price the space; the agent's device has a range", async () => {
    const unmeasured = await cli(['devices', 'latency-range', 'spare-cpu', '--space', 'proxy-28']);
    expect(unmeasured.code).toBe(1);
    expect(unmeasured.capture.stderr).toMatch(/lacks \d+ block signature\(s\) for proxy-28.*\(HTTP 409\)/s);

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
    const waited = await cli(['devices', 'wait', 'lab-cpu', '--space', 'proxy-28']);
    expect(waited.code).toBe(0);
    expect(waited.capture.stdout).toContain('proxy-28 ready');
  });

  it('jobs submit <file> --budget-ms suggested --wait trains for real, then prints the front (predicted / measured) and the baselines; list, show, pareto and models download follow', async () => {
    writeRequest('tiny.yaml', { deviceIds: ['lab-cpu'], space: 'proxy-28', ...TINY_JOB });
    const { code, capture } = await cli([
      'jobs',
      'submit',
      'tiny.yaml',
      '--budget-ms',
      'suggested',
      '--wait',
    ]);
    if (code !== 0) throw new Error(`jobs submit --wait exited ${code}:\n${capture.stderr}`);
    const submitted = /job (\S+) submitted \(queued\)/.exec(capture.stdout);
    expect(submitted).not.toBeNull();
    const jobId = (submitted as RegExpExecArray)[1];

    expect(capture.stderr).toMatch(/lab-cpu: fastest [\d.]+ ms, median [\d.]+ ms/);
    expect(capture.stderr).toMatch(/latency budget: [\d.]+ ms/);
    // progress lines (no terminal): the generations and what the worker is doing
    expect(capture.stderr).toMatch(/^generation \d\/2 .*supernet training/m);
    expect(capture.stderr).toMatch(/^generation 2\/2 .*finalists and baselines/m);
    expect(capture.stdout).toContain(`job ${jobId}: completed`);

    const pareto = (await stack.http<ParetoView>('GET', `/v1/jobs/${jobId}/pareto`)).body;
    const budget = pareto.latencyBudgetMs;
    const cell = (c: CandidateSummary) => {
      const pred = c.predictedLatencyByDevice[deviceId];
      const meas = c.measuredLatencyByDevice?.[deviceId];
      return `${formatMs(pred)} / ${meas === undefined ? '–' : formatMs(meas)}${pred > budget ? ' over' : ''}`;
    };
    const rowOf = (text: string, key: string) => text.split('\n').find((l) => l.includes(key)) ?? '';
    expect(pareto.front.length).toBeGreaterThan(0);
    for (const m of pareto.front) {
      const row = rowOf(capture.stdout, m.architectureId);
      expect(row).toContain(`${(m.accuracy * 100).toFixed(1)} % ± ${((m.accuracySd ?? 0) * 100).toFixed(1)}`);
      expect(row).toContain(cell(m));
    }
    // the agent measured the front end to end: measured beside predicted
    expect(pareto.front.some((m) => m.measuredLatencyByDevice?.[deviceId] !== undefined)).toBe(true);
    expect(pareto.baselines.map((b) => b.baseline).sort()).toEqual(
      ['fbnet-b', 'mobilenetv2-like', 'shufflenetv2-like', 'smallest'].sort(),
    );
    for (const b of pareto.baselines) expect(rowOf(capture.stdout, b.baseline)).toContain(cell(b));

    const wide = await cli(['jobs', 'pareto', jobId, '--wide']);
    for (const m of pareto.front) expect(wide.capture.stdout).toContain(m.architecture);
    const list = await cli(['jobs', 'list']);
    expect(list.capture.stdout).toMatch(new RegExp(`${jobId}.*completed.*proxy-28`));
    const show = await cli(['jobs', 'show', jobId]);
    const result = (await stack.http<JobView>('GET', `/v1/jobs/${jobId}`)).body.result as NasJobResult;
    expect(show.capture.stdout).toContain(
      `result: front ${result.front.length} · trained ${result.trained} · hypervolume ` +
        `${result.hypervolume.toFixed(4)} · stopped by ${result.stoppedBy}`,
    );

    // The model downloads and is a real ONNX model: onnxruntime-node loads and runs it.
    const member = pareto.front[0];
    const download = await cli(['models', 'download', jobId, member.architectureId, '-o', 'm.onnx']);
    expect(download.code).toBe(0);
    const session = await ort.InferenceSession.create(readFileSync(join(dir, 'm.onnx')));
    const input = new ort.Tensor('float32', new Float32Array(28 * 28).fill(0.5), [1, 1, 28, 28]);
    const out = await session.run({ [session.inputNames[0]]: input });
    expect(out[session.outputNames[0]].dims).toEqual([1, 10]);
    await session.release();

    // A scored candidate off the front has no model: the API's reason, exit 1.
    const candidates = await stack.http<{ architectureId: string; status: string }[]>(
      'GET',
      `/v1/jobs/${jobId}/candidates`,
    );
    const onFront = new Set(pareto.front.map((m) => m.architectureId));
    const off = candidates.body.find((c) => c.status === 'scored' && !onFront.has(c.architectureId));
    expect(off).toBeDefined();
    const missing = await cli(['models', 'download', jobId, off!.architectureId]);
    expect(missing.code).toBe(1);
    expect(missing.capture.stderr).toMatch(/no exported model for architecture.*\(HTTP 404\)/s);

    completed = { jobId, front: pareto.front };
    const cancel = await cli(['jobs', 'cancel', jobId]);
    expect(cancel.code).toBe(1);
    expect(cancel.capture.stderr).toMatch(
      new RegExp(`job ${jobId} is already completed.*\\(HTTP 409\\)`, 's'),
    );
  });

  it('final train --distill --wait trains for real and prints the model card; final list, show and download; refusals are the API’s', async () => {
    if (!completed) throw new Error('needs the job of the previous test');
    const { jobId, front } = completed;
    const student = front[0];
    const capture = new Capture();
    const args = ['final', 'train', jobId, student.architectureId, '--steps', '8', '--batch-size', '16'];
    const { code } = await cli(
      [...args, '--calibration', '16', '--distill', '--alpha', '0.3', '--wait'],
      capture,
    );
    if (code !== 0) throw new Error(`final train --wait exited ${code}:\n${capture.stderr}`);
    const started = /final model (\S+) started/.exec(capture.stdout);
    expect(started).not.toBeNull();
    const id = (started as RegExpExecArray)[1];
    expect(capture.stdout).toMatch(
      /float: top-1 [\d.]+ %, [\d.]+ KiB · INT8 \((minmax|percentile)\): top-1 [\d.]+ %/,
    );
    expect(capture.stdout).toMatch(/distilled from \S+ \(best-finalist/);

    const list = await cli(['final', 'list', jobId]);
    expect(list.capture.stdout).toMatch(new RegExp(`${id}.*${student.architectureId}.*completed`));
    const show = await cli(['final', 'show', jobId, id]);
    expect(show.capture.stdout).toContain(`final model ${id} of ${student.architectureId}: completed`);
    // The INT8 file is a real model: onnxruntime-node loads and runs it.
    const download = await cli(['final', 'download', jobId, id, '--int8', '-o', 'final.int8.onnx']);
    expect(download.code).toBe(0);
    // It classifies the dataset's classes (the synthetic set has fewer than the job's geometry; the card says so).
    const card = (
      await stack.http<{ card: { dataset: { classes: number } } }>(
        'GET',
        `/v1/jobs/${jobId}/final-models/${id}`,
      )
    ).body.card;
    const session = await ort.InferenceSession.create(readFileSync(join(dir, 'final.int8.onnx')));
    const input = new ort.Tensor('float32', new Float32Array(28 * 28).fill(0.5), [1, 1, 28, 28]);
    const out = await session.run({ [session.inputNames[0]]: input });
    expect(out[session.outputNames[0]].dims).toEqual([1, card.dataset.classes]);
    await session.release();

    const ghost = await cli(['final', 'train', jobId, 'ghost', '--calibration', '16', '--batch-size', '16']);
    expect(ghost.code).toBe(1);
    expect(ghost.capture.stderr).toContain(`architecture "ghost" is not in job "${jobId}" (HTTP 404)`);
    const tooMany = await cli(['final', 'train', jobId, student.architectureId, '--calibration', '100000']);
    expect(tooMany.code).toBe(1);
    expect(tooMany.capture.stderr).toMatch(/calibrationImages: .*training set has \d+.*\(HTTP 400\)/s);
  });

  it('jobs cancel stops a running job; jobs watch then exits 1 saying so', async () => {
    writeRequest('long.yaml', {
      deviceIds: ['lab-cpu'],
      space: 'proxy-28',
      ...TINY_JOB,
      evaluation: { ...TINY_JOB.evaluation, supernet: { ...TINY_JOB.evaluation.supernet, steps: 5000 } },
    });
    const submitted = await cli(['--json', 'jobs', 'submit', 'long.yaml', '--budget-ms', 'suggested']);
    expect(submitted.code).toBe(0);
    const jobId = (JSON.parse(submitted.capture.stdout) as { id: string }).id;
    // cancel once the supernet trains (in its own process under the worker)
    await waitFor(
      'the supernet training process',
      async () => (childPids(stack.worker!.pid).length > 0 ? true : undefined),
      60_000,
    );
    const cancel = await cli(['jobs', 'cancel', jobId]);
    expect(cancel.code).toBe(0);
    expect(cancel.capture.stdout).toBe(`job ${jobId}: cancellation requested`);
    const watched = await cli(['jobs', 'watch', jobId]);
    expect(watched.code).toBe(1);
    expect(watched.capture.stderr).toContain(`job ${jobId} was cancelled`);
  });

  it('jobs submit --wait exits 1 with the reason the worker failed the job for (an image folder without classes)', async () => {
    // Under the dataset root, so the API takes it; only the worker reads the classes.
    mkdirSync(join(stack.dataDir, 'datasets', 'one-class', 'only'), { recursive: true });
    writeRequest('folder.yaml', {
      deviceIds: ['lab-cpu'],
      space: 'proxy-28',
      ...TINY_JOB,
      proxy: { dataset: { kind: 'image-folder', path: 'one-class' }, batchSize: 16 },
      evaluation: { ...TINY_JOB.evaluation, supernet: { ...TINY_JOB.evaluation.supernet, scoreImages: 8 } },
    });
    const failed = await cli(['jobs', 'submit', 'folder.yaml', '--budget-ms', 'suggested', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.capture.stderr).toMatch(
      /job \S+ failed: .*image folder: .*needs one sub-folder per class \(at least 2\), found 1/,
    );
  });

  it("reads a YAML request file; a refused field is the API's 400 reason, exit 1", async () => {
    writeRequest('job.yaml', {
      deviceIds: ['lab-cpu'],
      space: 'proxy-28',
      latencyBudgetMs: 5,
      preset: 'fast',
      proxy: { dataset: { kind: 'synthetic' } },
    });
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
    expect(unknown.capture.stderr).toContain('unknown device "ghost"; known devices: lab-cpu, spare-cpu');
    const badFlag = await cli(['jobs', 'submit', '--preset', 'fast']);
    expect(badFlag.code).toBe(2);

    const noKey = new Capture();
    expect(await runCli(['--api', stack.apiUrl, 'devices', 'list'], noKey.io(dir))).toBe(2);
    expect(noKey.stderr).toContain('no API key');
    const wrongKey = await cli(['--api-key', 'nope', 'devices', 'list']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.capture.stderr).toContain('(HTTP 401)');
    const unused = await freePort(3350, 3359);
    const down = await cli(['--api', `http://127.0.0.1:${unused}`, 'devices', 'list']);
    expect(down.code).toBe(1);
    expect(down.capture.stderr).toContain(`cannot reach the EdgeNAS API at http://127.0.0.1:${unused}`);
  });

  it('datasets add uploads a local image folder into the dataset root (re-runs skip what is there); list shows it', async () => {
    const folder = join(dir, 'my-shoes');
    const png = (value: number) => {
      const image = new PNG({ width: 4, height: 4 });
      image.data.fill(value);
      return PNG.sync.write(image);
    };
    for (const [cls, value] of [
      ['boot', 30],
      ['sandal', 220],
    ] as const) {
      mkdirSync(join(folder, cls), { recursive: true });
      for (let i = 0; i < 3; i++) writeFileSync(join(folder, cls, `${i}.png`), png(value + i));
    }
    writeFileSync(join(folder, 'boot', 'notes.txt'), 'not an image');

    const first = await cli(['datasets', 'add', 'shoes', folder]);
    expect([first.code, first.capture.stderr]).toEqual([0, expect.anything()]);
    expect(first.capture.stdout).toContain('shoes: 6 images in 2 classes (6 new, 0 already there)');
    expect(readdirSync(join(stack.dataDir, 'datasets', 'shoes', 'sandal')).sort()).toEqual([
      '0.png',
      '1.png',
      '2.png',
    ]);
    const again = await cli(['datasets', 'add', 'shoes', folder]);
    expect(again.capture.stdout).toContain('(0 new, 6 already there)');
    const list = await cli(['datasets', 'list']);
    expect(list.capture.stdout).toMatch(/shoes\s*│\s*6\s*│\s*boot \(3\), sandal \(3\)/);

    // another file under a stored name: the API's reason, exit 1
    writeFileSync(join(folder, 'boot', '1.png'), png(99));
    const changed = await cli(['datasets', 'add', 'shoes', folder]);
    expect(changed.code).toBe(1);
    expect(changed.capture.stderr).toMatch(/already has a different "1\.png".*\(HTTP 409\)/);
    // a folder with one class is a usage error
    const single = join(dir, 'one-class');
    mkdirSync(join(single, 'only'), { recursive: true });
    writeFileSync(join(single, 'only', 'a.png'), png(1));
    const refused = await cli(['datasets', 'add', 'tiny', single]);
    expect(refused.code).toBe(2);
    expect(refused.capture.stderr).toMatch(/at least 2 class sub-folders/);
  });

  it('bin/edgenas.js runs the built CLI and reports through its exit code (needs `npm run build`)', async () => {
    const run = promisify(execFile);
    const bin = join(__dirname, '..', 'bin', 'edgenas.js');
    const env = { ...process.env, EDGENAS_API_URL: stack.apiUrl, EDGENAS_API_KEY: API_KEY };
    const ok = await run(process.execPath, [bin, 'devices', 'list'], { env });
    expect(ok.stdout).toContain('lab-cpu');
    await expect(run(process.execPath, [bin, 'jobs', 'show', 'ghost'], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown job "ghost" (HTTP 404)'),
    });
  });
});
