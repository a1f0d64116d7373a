/**
 * Training-mode BatchNorm as two wasm kernels that loop over the wasm heap (forward: batch statistics and the
 * normalisation; backward: the closed-form gradient), registered under the names the search-space tfjs builder
 * looks for (`TRAINING_BATCH_NORM`, `TRAINING_BATCH_NORM_GRAD`).
 *
 * Why: composed from wasm kernels, one training BN costs ~10 full passes over x plus reductions over the leading
 * axes, which wasm runs as a transpose then a reduce (~2.3 ms each for a 64x14x14x72 tensor here). These loops
 * make 2 passes forward and 2 backward.
 * - Per-channel sums accumulate four rows at a time (each accumulator is read and written once per four rows;
 *   ~2.5x faster than one row at a time in V8) in float64, so the one-pass variance E[x²] − E[x]² keeps float32
 *   precision for the values BN sees.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { TRAINING_BATCH_NORM, TRAINING_BATCH_NORM_GRAD } from '@edgenas/search-space/tfjs';
import { HeapBackend, float32KernelIo } from './wasm-heap';

function channelsOf(x: TensorInfo, kernelName: string): { rows: number; channels: number } {
  const channels = x.shape[x.shape.length - 1];
  if (x.dtype !== 'float32' || x.shape.length < 2 || channels === 0) {
    throw new Error(
      `${kernelName}: x must be float32 with a channel axis last (got ${x.dtype} [${x.shape}])`,
    );
  }
  const size = x.shape.reduce((n, d) => n * d, 1);
  return { rows: size / channels, channels };
}

/** Σa and Σa·b (or Σa² when b is a) per channel over the rows of [rows, channels] data, in float64. */
function channelSums(
  a: Float32Array,
  b: Float32Array,
  rows: number,
  channels: number,
): { sumA: Float64Array; sumAB: Float64Array } {
  const sumA = new Float64Array(channels);
  const sumAB = new Float64Array(channels);
  const c1 = channels;
  const c2 = 2 * channels;
  const c3 = 3 * channels;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    let i = r * channels;
    for (let c = 0; c < channels; c++, i++) {
      const a0 = a[i];
      const a1 = a[i + c1];
      const a2 = a[i + c2];
      const a3 = a[i + c3];
      sumA[c] += a0 + a1 + (a2 + a3);
      sumAB[c] += a0 * b[i] + a1 * b[i + c1] + (a2 * b[i + c2] + a3 * b[i + c3]);
    }
  }
  for (; r < rows; r++) {
    let i = r * channels;
    for (let c = 0; c < channels; c++, i++) {
      sumA[c] += a[i];
      sumAB[c] += a[i] * b[i];
    }
  }
  return { sumA, sumAB };
}

/** out = a·s + b·t + u per channel over [rows, channels] data; without b and t, out = a·s + u. Four rows a turn. */
function channelAffine(
  out: Float32Array,
  a: Float32Array,
  s: Float32Array,
  u: Float32Array,
  rows: number,
  channels: number,
  b?: Float32Array,
  t?: Float32Array,
): void {
  const c1 = channels;
  const c2 = 2 * channels;
  const c3 = 3 * channels;
  let r = 0;
  if (b && t) {
    for (; r + 4 <= rows; r += 4) {
      let i = r * channels;
      for (let c = 0; c < channels; c++, i++) {
        const sc = s[c];
        const tc = t[c];
        const uc = u[c];
        out[i] = a[i] * sc + b[i] * tc + uc;
        out[i + c1] = a[i + c1] * sc + b[i + c1] * tc + uc;
        out[i + c2] = a[i + c2] * sc + b[i + c2] * tc + uc;
        out[i + c3] = a[i + c3] * sc + b[i + c3] * tc + uc;
      }
    }
    for (; r < rows; r++) {
      for (let c = 0, i = r * channels; c < channels; c++, i++) out[i] = a[i] * s[c] + b[i] * t[c] + u[c];
    }
    return;
  }
  for (; r + 4 <= rows; r += 4) {
    let i = r * channels;
    for (let c = 0; c < channels; c++, i++) {
      const sc = s[c];
      const uc = u[c];
      out[i] = a[i] * sc + uc;
      out[i + c1] = a[i + c1] * sc + uc;
      out[i + c2] = a[i + c2] * sc + uc;
      out[i + c3] = a[i + c3] * sc + uc;
    }
  }
  for (; r < rows; r++) {
    for (let c = 0, i = r * channels; c < channels; c++, i++) out[i] = a[i] * s[c] + u[c];
  }
}

/** inputs x [..., C], scale [C], offset [C]; attrs varianceEpsilon → y, batch mean [C], biased variance [C]. */
const trainingBatchNormKernel: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, scale, offset } = inputs as { x: TensorInfo; scale: TensorInfo; offset: TensorInfo };
  const epsilon = (attrs as NamedAttrMap).varianceEpsilon as number;
  const heap = backend as unknown as HeapBackend;
  const { rows, channels } = channelsOf(x, TRAINING_BATCH_NORM);
  const io = float32KernelIo(
    heap,
    TRAINING_BATCH_NORM,
    [x, scale, offset],
    [x.shape, [channels], [channels]],
  );
  const [xs, gamma, beta] = io.ins;
  const [ys, mean, variance] = io.outs;
  const { sumA, sumAB } = channelSums(xs, xs, rows, channels);
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const mu = sumA[c] / rows;
    const v = Math.max(0, sumAB[c] / rows - mu * mu);
    mean[c] = mu;
    variance[c] = v;
    a[c] = gamma[c] / Math.sqrt(v + epsilon);
    b[c] = beta[c] - mu * a[c];
  }
  channelAffine(ys, xs, a, b, rows, channels);
  return io.outputs;
};

/**
 * inputs dy, x, scale, mean, variance (the batch's); attrs varianceEpsilon → dx, dScale, dOffset, with M rows:
 *   dβ = Σdy,  dγ = rstd·(Σdy·x − μ·Σdy),  dx = k·dy + x·p + q,  k = γ·rstd,  p = −k·rstd·dγ/M,  q = −k·dβ/M − μ·p.
 */
const trainingBatchNormGradKernel: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, x, scale, mean, variance } = inputs as Record<string, TensorInfo>;
  const epsilon = (attrs as NamedAttrMap).varianceEpsilon as number;
  const heap = backend as unknown as HeapBackend;
  const { rows, channels } = channelsOf(x, TRAINING_BATCH_NORM_GRAD);
  const io = float32KernelIo(
    heap,
    TRAINING_BATCH_NORM_GRAD,
    [dy, x, scale, mean, variance],
    [x.shape, [channels], [channels]],
  );
  const [dys, xs, gamma, mu, v] = io.ins;
  const [dx, dScale, dOffset] = io.outs;
  const { sumA: sumDy, sumAB: sumDyX } = channelSums(dys, xs, rows, channels);
  const k = new Float32Array(channels);
  const p = new Float32Array(channels);
  const q = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const rstd = 1 / Math.sqrt(v[c] + epsilon);
    const dGamma = rstd * (sumDyX[c] - mu[c] * sumDy[c]);
    dScale[c] = dGamma;
    dOffset[c] = sumDy[c];
    k[c] = gamma[c] * rstd;
    p[c] = (-k[c] * rstd * dGamma) / rows;
    q[c] = (-k[c] * sumDy[c]) / rows - mu[c] * p[c];
  }
  channelAffine(dx, dys, k, q, rows, channels, xs, p);
  return io.outputs;
};

/** The gradient of TRAINING_BATCH_NORM: one call of the gradient kernel, shared by the three closures. */
export const trainingBatchNormGradient: GradConfig = {
  kernelName: TRAINING_BATCH_NORM,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const [x, scale, mean, variance] = saved;
    const [dx, dScale, dOffset] = tf
      .engine()
      .runKernel(TRAINING_BATCH_NORM_GRAD, { dy, x, scale, mean, variance }, attrs) as Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset };
  },
};

/**
 * Registers both kernels for `backendName` (a backend with wasm's heap interface) and the gradient; what is
 * already registered is left as it is.
 */
export function registerTrainingBatchNormKernels(backendName = 'wasm'): void {
  if (!tf.getKernel(TRAINING_BATCH_NORM, backendName)) {
    tf.registerKernel({ kernelName: TRAINING_BATCH_NORM, backendName, kernelFunc: trainingBatchNormKernel });
  }
  if (!tf.getKernel(TRAINING_BATCH_NORM_GRAD, backendName)) {
    tf.registerKernel({
      kernelName: TRAINING_BATCH_NORM_GRAD,
      backendName,
      kernelFunc: trainingBatchNormGradKernel,
    });
  }
  if (!tf.getGradient(TRAINING_BATCH_NORM)) tf.registerGradient(trainingBatchNormGradient);
}
