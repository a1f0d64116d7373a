import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadDataset } from './datasets';
import { LIGHT_ARCHITECTURE } from './reference-architectures';
import { TrainingAbortedError, TrainingRequestError } from './errors';
import { trainProxy } from './train';
import { readWeightsFile, writeTeacherLogits } from './tensor-file';
import { COMPARED_BACKENDS } from './backends.fixture';
import type { ProxyTrainingRequest, TrainingProgress } from './request';

const synthetic: ProxyTrainingRequest = {
  architecture: LIGHT_ARCHITECTURE,
  dataset: { kind: 'synthetic', trainSize: 384, valSize: 192, classes: 4 },
  epochs: 1,
  steps: 36,
  batchSize: 32,
  resolution: 16,
  seed: 11,
  backend: 'wasm',
  progressIntervalMs: 0,
};

describe('trainProxy', () => {
  it.each(COMPARED_BACKENDS)(
    'learns the synthetic task on %s and reports the result fields',
    async (backend) => {
      const progress: TrainingProgress[] = [];
      const r = await trainProxy({ ...synthetic, backend }, { onProgress: (p) => progress.push(p) });
      expect(r.backend.name).toBe(backend);
      expect(r.valAccuracy).toBeGreaterThan(0.6); // chance is 0.25
      expect(r.steps).toBe(36);
      expect(r.epochs).toBeCloseTo((36 * 32) / 384);
      expect(r.lossCurve[r.lossCurve.length - 1].loss).toBeLessThan(r.lossCurve[0].loss);
      expect(r.imagesPerSecond).toBeGreaterThan(0);
      expect(r.wallTimeMs).toBeGreaterThan(0);
      expect(r.peakRssBytes).toBeGreaterThan(10e6);
      expect(r.params).toBeGreaterThan(1000);
      expect(r.geometry).toBe('proxy-28@16x16x1-c4');
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress[progress.length - 1]).toMatchObject({ step: 36, totalSteps: 36 });
    },
  );

  it.each(COMPARED_BACKENDS)(
    'is seeded on %s: the same request gives the same loss curve',
    async (backend) => {
      const req = { ...synthetic, steps: 4, backend };
      const a = await trainProxy(req);
      const before = tf.memory();
      const b = await trainProxy(req);
      // Network, optimizer state and every step's tensors are released.
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
      const c = await trainProxy({ ...req, seed: 12 });
      expect(b.lossCurve).toEqual(a.lossCurve);
      expect(c.lossCurve).not.toEqual(a.lossCurve);
    },
  );

  it.each(COMPARED_BACKENDS)(
    'on %s, resumes from a checkpoint to the same weights as a run never interrupted, and refuses another run’s',
    async (backend) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-resume-'));
      try {
        // 3 epochs of 12 steps: the resumed part crosses an epoch's reshuffle; augmentation draws per step.
        const req: ProxyTrainingRequest = {
          ...synthetic,
          steps: 36,
          backend,
          augmentation: { crop: true, flip: true },
        };
        const checkpoints: number[] = [];
        const straight = await trainProxy(req, {
          checkpointPath: path.join(dir, 'run.ckpt'),
          checkpointEverySteps: 20,
          weightsPath: path.join(dir, 'straight.weights'),
          onCheckpoint: (c) => checkpoints.push(c.step),
        });
        expect(checkpoints).toEqual([20]);
        expect(straight.resumedFromStep).toBe(0);
        const refused: string[] = [];
        const resumed = await trainProxy(req, {
          resumeFrom: path.join(dir, 'run.ckpt'),
          weightsPath: path.join(dir, 'resumed.weights'),
          onResumeRefused: (reason) => refused.push(reason),
        });
        expect(refused).toEqual([]);
        expect(resumed.resumedFromStep).toBe(20);
        expect(resumed.lossCurve[0].step).toBeGreaterThan(20);
        expect(resumed.valAccuracy).toBe(straight.valAccuracy);
        const a = readWeightsFile(path.join(dir, 'straight.weights'));
        const b = readWeightsFile(path.join(dir, 'resumed.weights'));
        expect(Object.keys(b)).toEqual(Object.keys(a));
        for (const name of Object.keys(a)) expect(b[name]).toEqual(a[name]);

        // Another seed's run does not start from this checkpoint.
        const other = await trainProxy(
          { ...req, seed: 12, steps: 4 },
          { resumeFrom: path.join(dir, 'run.ckpt'), onResumeRefused: (reason) => refused.push(reason) },
        );
        expect(other.resumedFromStep).toBe(0);
        expect(refused).toEqual(['run.ckpt is a checkpoint of another training request']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('learns from a teacher’s logits alone at weight 1 (rows follow the batch order), from an array or a file', async () => {
    const data = loadDataset(synthetic.dataset, { resolution: synthetic.resolution, seed: synthetic.seed });
    // A teacher that knows every training label: misaligned rows would teach noise (chance is 0.25).
    const logits = new Float32Array(data.train.count * data.classes);
    data.train.labels.forEach((label, i) => (logits[i * data.classes + label] = 5));
    const distilled = await trainProxy({
      ...synthetic,
      distillation: { teacherLogits: logits, temperature: 2, weight: 1 },
    });
    expect(distilled.valAccuracy).toBeGreaterThan(0.6);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-teacher-'));
    try {
      const file = path.join(dir, 'teacher.logits');
      writeTeacherLogits(file, logits, data.classes);
      const fromFile = await trainProxy({
        ...synthetic,
        distillation: { teacherLogits: file, temperature: 2, weight: 1 },
      });
      expect(fromFile.valAccuracy).toBe(distilled.valAccuracy);
      const short = { teacherLogits: logits.subarray(data.classes), temperature: 2, weight: 0.5 };
      await expect(trainProxy({ ...synthetic, steps: 1, distillation: short })).rejects.toThrow(
        /distillation.teacherLogits: 1532 logits of 4 classes do not cover the 384 training images/,
      );
      await expect(
        trainProxy({
          ...synthetic,
          steps: 1,
          distillation: { teacherLogits: logits, temperature: 0, weight: 1 },
        }),
      ).rejects.toThrow(/distillation.temperature must be > 0/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops within one batch when aborted', async () => {
    const controller = new AbortController();
    let stepsAfterAbort = -1;
    let abortedAt = 0;
    const run = trainProxy(
      { ...synthetic, steps: 1000 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.step === 3) {
            abortedAt = p.step;
            controller.abort();
          }
          if (abortedAt) stepsAfterAbort = p.step - abortedAt;
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(TrainingAbortedError);
    await expect(run).rejects.toThrow(/aborted at step [34]$/);
    expect(stepsAfterAbort).toBeLessThanOrEqual(1);
  });

  it('rejects a bad request naming the field, and a bad architecture naming the layer', async () => {
    await expect(trainProxy({ ...synthetic, batchSize: 0 })).rejects.toBeInstanceOf(TrainingRequestError);
    await expect(trainProxy({ ...synthetic, batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(trainProxy({ ...synthetic, architecture: 'ir_k3_e1' })).rejects.toThrow(/layer/);
  });

  it('on real Fashion-MNIST, validation accuracy tracks training accuracy (BN statistics converge)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgenas-train-'));
    try {
      const req: ProxyTrainingRequest = {
        architecture: LIGHT_ARCHITECTURE,
        dataset: { kind: 'fashion-mnist', trainSize: 2048, valSize: 512 },
        epochs: 2,
        batchSize: 64,
        resolution: 28,
        seed: 5,
        dataDir,
      };
      const dataset = loadDataset(req.dataset, { resolution: 28, seed: 5, dataDir });
      const r = await trainProxy(req, { dataset });
      expect(r.steps).toBe(64);
      expect(r.trainAccuracy).toBeGreaterThan(0.55); // chance is 0.1
      expect(r.valAccuracy).toBeGreaterThan(0.55);
      expect(Math.abs(r.trainAccuracy - r.valAccuracy)).toBeLessThan(0.12);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
