import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend';
import { COMPARED_BACKENDS } from './backends.fixture';
import { registerTrainingKernels, WASM_GRADIENT_KERNEL_NAMES } from './training-kernels';
import { createRandom } from './random';
import { relativeError } from './relative-error.fixture';

type Pad = 'same' | 'valid' | number;

interface GradCase {
  readonly label: string;
  /** Input values (flat) and shapes; the function maps tensors to a scalar loss. */
  readonly inputs: { shape: number[]; values: Float32Array }[];
  readonly loss: (...xs: tf.Tensor[]) => tf.Scalar;
}

/** Gradients of `loss` with respect to every input, computed on `backend`. */
async function gradientsOn(backend: string, c: GradCase): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = c.inputs.map((i) => tf.tensor(i.values, i.shape));
    const grads = tf.grads((...args: tf.Tensor[]) => c.loss(...args))(xs);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

/** Gradients on every backend present (tfjs-node, wasm) against the cpu backend's. */
async function expectBackendsMatchCpu(c: GradCase, tolerance = 1e-4): Promise<void> {
  const expected = await gradientsOn('cpu', c);
  for (const backend of COMPARED_BACKENDS) {
    const actual = await gradientsOn(backend, c);
    expected.forEach((e, i) => {
      expect(actual[i].length).toBe(e.length);
      const err = relativeError(actual[i], e);
      if (!(err <= tolerance)) {
        throw new Error(`${c.label} on ${backend}: input ${i} gradient relative error ${err}`);
      }
    });
  }
}

const rng = createRandom(1234);
const randomValues = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const input = (shape: number[]) => ({ shape, values: randomValues(size(shape)) });

/** A random projection of the output makes dy random too (a plain sum would give dy = 1 everywhere). */
function projected(y: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(y, weights));
}

function convOutput(inSize: number, k: number, stride: number, pad: Pad): number {
  if (pad === 'same') return Math.ceil(inSize / stride);
  if (pad === 'valid') return Math.ceil((inSize - k + 1) / stride);
  return Math.floor((inSize + 2 * pad - k) / stride) + 1;
}

const PADS = (k: number): Pad[] => [(k - 1) / 2, 'same', 'valid'];

describe(`training gradients on ${COMPARED_BACKENDS.join(' and ')} vs the cpu backend`, () => {
  beforeAll(async () => {
    for (const backend of COMPARED_BACKENDS) expect((await selectBackend(backend)).name).toBe(backend);
    registerTrainingKernels();
  });

  it('registers the three gradient kernels for wasm', () => {
    for (const name of WASM_GRADIENT_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    expect(WASM_GRADIENT_KERNEL_NAMES).toEqual(
      expect.arrayContaining([
        'Conv2DBackpropFilter',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
      ]),
    );
  });

  for (const k of [1, 3, 5]) {
    for (const stride of [1, 2] as const) {
      it(`conv2d k${k} stride ${stride}: input and filter gradients (random shapes, 3 paddings)`, async () => {
        for (const pad of PADS(k)) {
          const n = 1 + rng.int(3);
          const h = k + 2 + rng.int(8);
          const w = k + 2 + rng.int(8);
          const ci = 1 + rng.int(6);
          const co = 1 + rng.int(6);
          const out = [n, convOutput(h, k, stride, pad), convOutput(w, k, stride, pad), co];
          await expectBackendsMatchCpu({
            label: `conv2d ${n}x${h}x${w}x${ci}→${co} k${k} s${stride} pad ${pad}`,
            inputs: [input([n, h, w, ci]), input([k, k, ci, co]), input(out)],
            loss: (x, f, r) => projected(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad), r),
          });
        }
      });

      it(`depthwise k${k} stride ${stride}: input and filter gradients (random shapes, 3 paddings)`, async () => {
        for (const pad of PADS(k)) {
          const n = 1 + rng.int(3);
          const h = k + 2 + rng.int(8);
          const w = k + 2 + rng.int(8);
          const c = 1 + rng.int(6);
          const out = [n, convOutput(h, k, stride, pad), convOutput(w, k, stride, pad), c];
          await expectBackendsMatchCpu({
            label: `depthwise ${n}x${h}x${w}x${c} k${k} s${stride} pad ${pad}`,
            inputs: [input([n, h, w, c]), input([k, k, c, 1]), input(out)],
            loss: (x, f, r) =>
              projected(tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad), r),
          });
        }
      });
    }
  }

  it('conv2d 1x1 filter gradient in both matmul orders (expansion 3 → 12 and projection 12 → 3, strides 1 and 2)', async () => {
    for (const [ci, co] of [
      [3, 12],
      [12, 3],
    ]) {
      for (const stride of [1, 2]) {
        await expectBackendsMatchCpu({
          label: `conv2d 1x1 ${ci}→${co} s${stride}`,
          inputs: [
            input([2, 7, 7, ci]),
            input([1, 1, ci, co]),
            input([2, stride === 1 ? 7 : 4, stride === 1 ? 7 : 4, co]),
          ],
          loss: (x, f, r) => projected(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, 0), r),
        });
      }
    }
  });

  it('a grouped, shuffled inverted-residual block with batch norm and a classifier', async () => {
    const [n, h, w, cin, hidden, classes] = [3, 9, 9, 4, 8, 5];
    const bn = (x: tf.Tensor4D, scale: tf.Tensor, offset: tf.Tensor): tf.Tensor4D => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(
        x,
        mean,
        variance,
        offset as tf.Tensor1D,
        scale as tf.Tensor1D,
        1e-3,
      ) as tf.Tensor4D;
    };
    const groupedPointwise = (x: tf.Tensor4D, f: tf.Tensor4D): tf.Tensor4D => {
      // 2 groups: split channels and filters, convolve each half, concat.
      const xs = tf.split(x, 2, 3) as tf.Tensor4D[];
      const fs = tf.split(tf.slice(f, [0, 0, 0, 0], [1, 1, f.shape[2] / 2, f.shape[3]]), 2, 3);
      return tf.concat(
        xs.map((xi, i) => tf.conv2d(xi, fs[i] as tf.Tensor4D, 1, 0) as tf.Tensor4D),
        3,
      );
    };
    const shuffle = (x: tf.Tensor4D): tf.Tensor4D => {
      const [b, hh, ww, c] = x.shape;
      return tf.reshape(tf.transpose(tf.reshape(x, [b, hh, ww, 2, c / 2]), [0, 1, 2, 4, 3]), [b, hh, ww, c]);
    };
    await expectBackendsMatchCpu({
      label: 'block',
      inputs: [
        input([n, h, w, cin]),
        input([1, 1, cin, hidden]),
        input([hidden]),
        input([hidden]),
        input([3, 3, hidden, 1]),
        input([hidden]),
        input([hidden]),
        input([1, 1, hidden, cin]),
        input([5, 5, cin, 6]),
        input([6, classes]),
      ],
      loss: (x, pw1, s1, o1, dw, s2, o2, pw2, conv5, fc) => {
        let y: tf.Tensor4D = shuffle(
          tf.relu(bn(groupedPointwise(x as tf.Tensor4D, pw1 as tf.Tensor4D), s1, o1)),
        );
        y = tf.relu(bn(tf.depthwiseConv2d(y, dw as tf.Tensor4D, 2, 1), s2, o2));
        y = groupedPointwise(y, pw2 as tf.Tensor4D);
        y = tf.relu(tf.conv2d(y, conv5 as tf.Tensor4D, 2, 2));
        const logits = tf.matMul(tf.mean(y, [1, 2]) as tf.Tensor2D, fc as tf.Tensor2D);
        const labels = tf.oneHot(tf.tensor1d([0, 3, 4], 'int32'), classes);
        return tf.losses.softmaxCrossEntropy(labels, logits, undefined, 0.1) as tf.Scalar;
      },
    });
  });

  it('the broadcasting FusedBatchNorm gradient equals autodiff through the elementwise formula', async () => {
    // Reference: (x − mean)·rsqrt(var + ε)·scale + offset written with elementwise ops (their stock gradients).
    for (const backend of ['cpu', ...COMPARED_BACKENDS]) {
      const shape = [3, 5, 4, 6];
      const c = 6;
      const inputs = [input(shape), input([c]), input([c]), input([c]), input([c]), input(shape)];
      inputs[2].values = inputs[2].values.map((v) => v * v + 0.1); // variance > 0
      const fused = await gradientsOn(backend, {
        label: 'fused',
        inputs,
        loss: (x, m, v, s, o, r) =>
          projected(
            tf.batchNorm(
              x as tf.Tensor4D,
              m as tf.Tensor1D,
              v as tf.Tensor1D,
              o as tf.Tensor1D,
              s as tf.Tensor1D,
              1e-3,
            ),
            r,
          ),
      });
      const elementwise = await gradientsOn(backend, {
        label: 'elementwise',
        inputs,
        loss: (x, m, v, s, o, r) =>
          projected(tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, 1e-3))), s), o), r),
      });
      fused.forEach((g, i) => expect(relativeError(g, elementwise[i])).toBeLessThanOrEqual(1e-5));
    }
  });

  it('replaced Concat, Slice and SplitV copy exactly what the cpu backend copies (every axis, ranks 2-5)', async () => {
    const forward = async (backend: string, f: () => tf.Tensor[]) => {
      await tf.setBackend(backend);
      return tf.tidy(() => f().map((t) => Array.from(t.dataSync())));
    };
    for (let trial = 0; trial < 12; trial++) {
      const rank = 2 + (trial % 4);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
      const axis = rng.int(rank);
      const a = input(shape);
      const bShape = shape.slice();
      bShape[axis] = 1 + rng.int(4);
      const b = input(bShape);
      const begin = shape.map((d) => rng.int(d));
      const size = shape.map((d, i) => (rng.next() < 0.3 ? -1 : 1 + rng.int(d - begin[i])));
      const f = () => {
        const ta = tf.tensor(a.values, a.shape);
        const tb = tf.tensor(b.values, b.shape);
        const joined = tf.concat([ta, tb, ta], axis);
        const parts = tf.split(joined, [shape[axis], bShape[axis], shape[axis]], axis);
        return [joined, tf.slice(ta, begin, size), ...parts];
      };
      const expected = await forward('cpu', f);
      for (const backend of COMPARED_BACKENDS) expect(await forward(backend, f)).toEqual(expected);
    }
  });

  it('detects a wrong gradient (the comparison can fail)', async () => {
    const c: GradCase = {
      label: 'perturbed',
      inputs: [input([2, 6, 6, 3]), input([3, 3, 3, 1]), input([2, 3, 3, 3])],
      loss: (x, f, r) => projected(tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 1), r),
    };
    const expected = await gradientsOn('cpu', c);
    const actual = await gradientsOn('wasm', c);
    expect(relativeError(actual[1], expected[1])).toBeLessThanOrEqual(1e-4);
    const wrong = actual[1].slice();
    wrong[wrong.length - 1] += 1e-2 * Math.max(...expected[1].map(Math.abs));
    expect(relativeError(wrong, expected[1])).toBeGreaterThan(1e-4);
  });

  it.each(COMPARED_BACKENDS)(
    'frees every intermediate on %s: tf.memory() is stable across training steps',
    async (backend) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(randomValues(2 * 10 * 10 * 4), [2, 10, 10, 4]);
      const f1 = tf.variable(tf.tensor4d(randomValues(3 * 3 * 4 * 6), [3, 3, 4, 6]));
      const f2 = tf.variable(tf.tensor4d(randomValues(5 * 5 * 6), [5, 5, 6, 1]));
      const f3 = tf.variable(tf.tensor4d(randomValues(6 * 3), [1, 1, 6, 3]));
      const step = () =>
        tf.tidy(() => {
          const { grads, value } = tf.variableGrads(() => {
            const y = tf.depthwiseConv2d(tf.relu(tf.conv2d(x, f1, 2, 1)), f2, 2, 2);
            return tf.sum(tf.square(tf.conv2d(y, f3, 1, 0)));
          });
          for (const [name, g] of Object.entries(grads)) {
            const v = [f1, f2, f3].find((t) => t.name === name);
            v?.assign(tf.sub(v, tf.mul(g, 1e-3)));
          }
          return value.dataSync()[0];
        });
      step();
      const before = tf.memory();
      for (let i = 0; i < 5; i++) step();
      const after = tf.memory();
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numDataBuffers).toBe(before.numDataBuffers);
      expect(after.numBytes).toBe(before.numBytes);
      tf.dispose([x, f1, f2, f3]);
    },
  );
});
