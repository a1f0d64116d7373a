import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  TrainingProcessError,
  isNonRetryableTrainingError,
  probeTrainingBackend,
  trainInChildProcess,
} from './child-process';
import { TrainingAbortedError } from './errors';
import { COMPARED_BACKENDS } from './backends.fixture';
import type { ProxyTrainingRequest, TrainingProgress } from './request';
import { LIGHT_ARCHITECTURE } from './reference-architectures';

const request: ProxyTrainingRequest = {
  architecture: LIGHT_ARCHITECTURE,
  dataset: { kind: 'synthetic', trainSize: 256, valSize: 128, classes: 4 },
  epochs: 1,
  steps: 12,
  batchSize: 32,
  resolution: 16,
  seed: 3,
  progressIntervalMs: 0,
};

describe('trainInChildProcess', () => {
  it('trains in a forked process, streams progress over IPC and keeps this event loop free', async () => {
    const progress: TrainingProgress[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const started = Date.now();
    try {
      const r = await trainInChildProcess(request, { onProgress: (p) => progress.push(p) });
      expect(r.steps).toBe(12);
      expect(r.valAccuracy).toBeGreaterThanOrEqual(0);
      // The best backend present: tfjs-node where its binding was built at install, else wasm.
      expect(r.backend.name).toBe(COMPARED_BACKENDS[0]);
      expect(progress.map((p) => p.step)).toContain(12);
    } finally {
      clearInterval(timer);
    }
    // A blocked event loop would have missed most ticks of a multi-second run.
    expect(ticks).toBeGreaterThan((Date.now() - started) / 20 / 4);
  });

  it('a tfjs-node binding that fails to load falls back to wasm, and the result says why', async () => {
    // The preloaded fixture makes loading the binding fail as it does once the TensorFlow libraries are gone.
    const hook = path.join(__dirname, 'broken-binding.fixture.js');
    const r = await trainInChildProcess(
      { ...request, steps: 2 },
      { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${hook}`.trim() } },
    );
    expect(r.steps).toBe(2);
    expect(r.backend.name).toBe('wasm');
    if (COMPARED_BACKENDS.includes('tensorflow')) {
      expect(r.backend.reason).toMatch(
        /@tensorflow\/tfjs-node did not load \(.*cannot open shared object file/,
      );
    }
  });

  it('probeTrainingBackend names the backend a training would use, and why when it is not the best', async () => {
    expect((await probeTrainingBackend()).name).toBe(COMPARED_BACKENDS[0]);
    const hook = path.join(__dirname, 'broken-binding.fixture.js');
    const fallback = await probeTrainingBackend({ env: { NODE_OPTIONS: `--require ${hook}` } });
    expect(fallback.name).toBe('wasm');
    expect(fallback.reason).toMatch(/@tensorflow\/tfjs-node did not load|Cannot find module/);
  });

  it('abort kills the child and rejects with TrainingAbortedError', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = trainInChildProcess(
      { ...request, steps: 10000 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.step >= 2) controller.abort();
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(TrainingAbortedError);
    expect(Date.now() - started).toBeLessThan(60000);
  });

  it('passes errors from the child through, marked non-retryable for bad requests', async () => {
    const err = await trainInChildProcess({ ...request, batchSize: -1 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TrainingRequestError');
    expect((err as Error).message).toMatch(/batchSize/);
    expect(isNonRetryableTrainingError(err)).toBe(true);
  });

  it('the child refuses an image folder outside the dataset roots before reading, non-retryable, naming no outside path', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-child-roots-'));
    try {
      const root = path.join(tmp, 'datasets');
      fs.mkdirSync(path.join(tmp, 'private', 'secret-class'), { recursive: true });
      fs.mkdirSync(root);
      fs.symlinkSync(path.join(tmp, 'private'), path.join(root, 'linked'));
      for (const p of ['../private', 'linked']) {
        const err = await trainInChildProcess({
          ...request,
          dataset: { kind: 'image-folder', path: p, valFraction: 0.2 },
          datasetRoots: [root],
        }).catch((e: unknown) => e);
        expect((err as Error).name).toBe('DatasetPathError');
        expect(isNonRetryableTrainingError(err)).toBe(true);
        expect((err as Error).message).not.toMatch(/private|secret-class/);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a crashing child (V8 heap exhausted while parsing Fashion-MNIST) rejects with a clear error', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-crash-'));
    try {
      const err = await trainInChildProcess(
        {
          ...request,
          dataset: { kind: 'fashion-mnist', trainSize: 100, valSize: 100 },
          resolution: 28,
          dataDir,
        },
        { env: { NODE_OPTIONS: '--max-old-space-size=40' } },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrainingProcessError);
      expect((err as Error).message).toMatch(/training process exited (with code|on signal)/);
      expect(isNonRetryableTrainingError(err)).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
