import * as tf from '@tensorflow/tfjs-core';
import { TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD, trainingBatchNorm } from '@edgenas/search-space/tfjs';
import { selectBackend } from './backend';
import { COMPARED_BACKENDS } from './backends.fixture';
import { createRandom } from './random';
import { relativeError } from './relative-error.fixture';

const EPSILON = 1e-3;

interface BatchNormRun {
  y: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  /** Gradients of Σ(y·r) with respect to x, γ and β. */
  grads: Float32Array[];
}

/**
 * trainingBatchNorm on `backend`: the wasm kernels there, FusedBatchNormV3 and its gradient on tensorflow, tfjs
 * ops with the closed-form customGrad on cpu.
 */
async function runOn(
  backend: string,
  shape: number[],
  values: { x: Float32Array; gamma: Float32Array; beta: Float32Array; r: Float32Array },
): Promise<BatchNormRun> {
  await tf.setBackend(backend);
  const c = shape[shape.length - 1];
  return tf.tidy(() => {
    const x = tf.tensor4d(values.x, shape as [number, number, number, number]);
    const gamma = tf.tensor1d(values.gamma);
    const beta = tf.tensor1d(values.beta);
    const r = tf.tensor(values.r, shape);
    let mean: Float32Array = new Float32Array(c);
    let variance: Float32Array = new Float32Array(c);
    const normalise = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      trainingBatchNorm(xi as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, EPSILON, (m, v) => {
        mean = m.dataSync() as Float32Array;
        variance = v.dataSync() as Float32Array;
      });
    const y = normalise(x, gamma, beta).dataSync() as Float32Array;
    const grads = tf
      .grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(normalise(xi, g, b), r)))([
        x,
        gamma,
        beta,
      ])
      .map((t) => t.dataSync() as Float32Array);
    return { y, mean, variance, grads };
  });
}

const rng = createRandom(77);
const uniform = (n: number, lo: number, hi: number) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());

describe.each(COMPARED_BACKENDS)('training BatchNorm kernels on %s', (backend) => {
  beforeAll(async () => {
    expect((await selectBackend(backend)).name).toBe(backend);
  });

  it(`are registered for ${backend}, not for cpu (which runs the reference composition)`, () => {
    for (const name of [TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD]) {
      expect(tf.getKernel(name, backend)).toBeDefined();
      expect(tf.getKernel(name, 'cpu')).toBeUndefined();
    }
    expect(tf.getGradient(TRAINING_BATCH_NORM)).toBeDefined();
  });

  // Row counts that are and are not multiples of the kernels' four-row unrolling; 1 and 13 channels; an offset
  // mean (the one-pass variance must not lose it to cancellation).
  const cases: { shape: [number, number, number, number]; offset: number; spread: number }[] = [
    { shape: [4, 6, 6, 8], offset: 0, spread: 1 },
    { shape: [3, 5, 7, 13], offset: 0, spread: 1 },
    { shape: [2, 3, 3, 1], offset: 0, spread: 1 },
    { shape: [5, 7, 9, 13], offset: 20, spread: 0.5 },
  ];
  for (const { shape, offset, spread } of cases) {
    it(`match the cpu reference: y, batch statistics and x/γ/β gradients (x [${shape}], mean ${offset})`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const c = shape[3];
      const values = {
        x: uniform(n, offset - spread, offset + spread),
        gamma: uniform(c, 0.5, 1.5),
        beta: uniform(c, -0.5, 0.5),
        r: uniform(n, -1, 1),
      };
      const expected = await runOn('cpu', shape, values);
      const actual = await runOn(backend, shape, values);
      expect(relativeError(actual.y, expected.y)).toBeLessThanOrEqual(1e-4);
      expect(relativeError(actual.mean, expected.mean)).toBeLessThanOrEqual(1e-5);
      expect(relativeError(actual.variance, expected.variance)).toBeLessThanOrEqual(1e-4);
      actual.grads.forEach((g, i) => {
        const err = relativeError(g, expected.grads[i]);
        if (!(err <= 1e-4)) throw new Error(`gradient ${['x', 'gamma', 'beta'][i]}: relative error ${err}`);
      });
    });
  }

  it('the comparison fails for a wrong gradient (β-gradient perturbed in one channel)', async () => {
    const shape: [number, number, number, number] = [2, 4, 4, 6];
    const values = {
      x: uniform(192, -1, 1),
      gamma: uniform(6, 0.5, 1.5),
      beta: uniform(6, -1, 1),
      r: uniform(192, -1, 1),
    };
    const expected = await runOn('cpu', shape, values);
    const actual = await runOn(backend, shape, values);
    const wrong = actual.grads[2].slice();
    wrong[5] += 1e-2 * Math.max(...expected.grads[2].map(Math.abs));
    expect(relativeError(wrong, expected.grads[2])).toBeGreaterThan(1e-4);
  });

  it('frees its outputs and intermediates: tf.memory() is stable across training steps', async () => {
    await tf.setBackend(backend);
    const x = tf.tensor4d(uniform(2 * 6 * 6 * 5, -1, 1), [2, 6, 6, 5]);
    const gamma = tf.variable(tf.ones([5]) as tf.Tensor1D);
    const beta = tf.variable(tf.zeros([5]) as tf.Tensor1D);
    const movingMean = tf.variable(tf.zeros([5]), false);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() =>
          tf.sum(
            tf.square(
              trainingBatchNorm(x, gamma, beta, EPSILON, (mean) =>
                movingMean.assign(tf.add(tf.mul(movingMean, 0.9), tf.mul(mean, 0.1))),
              ),
            ),
          ),
        );
        gamma.assign(tf.sub(gamma, tf.mul(grads[gamma.name], 1e-2)));
        beta.assign(tf.sub(beta, tf.mul(grads[beta.name], 1e-2)));
        return value.dataSync()[0];
      });
    step();
    const before = tf.memory();
    for (let i = 0; i < 4; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, gamma, beta, movingMean]);
  });
});
