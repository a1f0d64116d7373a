import * as tf from '@tensorflow/tfjs-core';
// The umbrella package registers the gradients (tfjs-core alone does not).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { BlockSignature, PROXY_28, headSignature, stemSignature } from '@edgenas/search-space';
import { BN_EPSILON, lowerSignature } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork, trainingBatchNorm } from '@edgenas/search-space/tfjs';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const shuffleSig: BlockSignature = {
  op: 'shuffle_k3',
  kernel: 3,
  expansion: 1,
  groups: 1,
  stride: 2,
  cin: 8,
  cout: 12,
  height: 8,
  width: 8,
  activation: 'relu',
  classes: 0,
};

function randomInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
}

describe('buildTfjsNetwork', () => {
  it('exportWeights returns the weights it was built with (layout conversions are inverse)', () => {
    const graph = lowerSignature({ ...shuffleSig, op: 'shuffle_k5', kernel: 5 });
    const weights = initWeights(graph, 4, { randomBatchNorm: true });
    const net = buildTfjsNetwork(graph, weights);
    const back = net.exportWeights();
    for (const p of graph.params) expect(back[p.name]).toEqual(weights[p.name]);
    net.dispose();
  });

  it('variables are the trainable parameters only; two networks of one graph coexist; dispose frees them', () => {
    const before = tf.memory().numTensors;
    const graph = lowerSignature(headSignature(PROXY_28));
    const a = buildTfjsNetwork(graph, initWeights(graph, 1));
    const b = buildTfjsNetwork(graph, initWeights(graph, 2));
    expect(a.variables.length).toBe(graph.params.filter((p) => p.trainable).length);
    expect(a.variables.every((v) => v.trainable)).toBe(true);
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('feature-map graphs come back NHWC with ceil(n/stride) sizes; apply() is for classifiers only', () => {
    const graph = lowerSignature({ ...shuffleSig, height: 9, width: 9 });
    const net = buildTfjsNetwork(graph, initWeights(graph, 1));
    const x = randomInput([2, 9, 9, 8], 1);
    const y = net.forward(x, { training: false });
    expect(y.shape).toEqual([2, 5, 5, 12]);
    expect(() => net.apply(x, { training: false })).toThrow(/not a classifier/);
    expect(() => net.forward(randomInput([1, 9, 9, 3], 2), { training: false })).toThrow(/8 channels/);
    tf.dispose([x, y]);
    net.dispose();
  });

  it('training mode normalises with batch statistics and moves the moving statistics by the momentum', () => {
    const graph = lowerSignature(stemSignature(PROXY_28));
    const weights = initWeights(graph, 3, { randomBatchNorm: true });
    const x = randomInput([4, 28, 28, 1], 3);
    // Momentum 0: the moving statistics become the batch's.
    const net0 = buildTfjsNetwork(graph, weights);
    tf.dispose(net0.forward(x, { training: true, bnMomentum: 0 }));
    const batch = net0.exportWeights();
    net0.dispose();
    const conv = tf.conv2d(x, tf.tensor4d(initWeightsHwio(weights['stem.weight']), [3, 3, 1, 8]), 2, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const { mean } = tf.moments(conv, [0, 1, 2]);
    const expectedMean = mean.dataSync();
    for (let c = 0; c < 8; c++) expect(batch['stem.bn.mean'][c]).toBeCloseTo(expectedMean[c], 4);
    // Default momentum 0.9: moving = 0.9·old + 0.1·batch.
    const net = buildTfjsNetwork(graph, weights);
    const trainOut = net.forward(x, { training: true });
    const moved = net.exportWeights();
    for (let c = 0; c < 8; c++) {
      expect(moved['stem.bn.var'][c]).toBeCloseTo(
        0.9 * weights['stem.bn.var'][c] + 0.1 * batch['stem.bn.var'][c],
        4,
      );
    }
    // updateStatistics false: the same training-mode output, the moving statistics untouched.
    const unmovedOut = net.forward(x, { training: true, updateStatistics: false });
    expect(tf.max(tf.abs(tf.sub(trainOut, unmovedOut))).dataSync()[0]).toBe(0);
    expect(net.exportWeights()['stem.bn.var']).toEqual(moved['stem.bn.var']);
    expect(net.exportWeights()['stem.bn.mean']).toEqual(moved['stem.bn.mean']);
    unmovedOut.dispose();
    // Inference uses the moving statistics, so it differs from the training-mode output.
    const inferOut = net.forward(x, { training: false });
    expect(tf.max(tf.abs(tf.sub(trainOut, inferOut))).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([x, conv, mean, trainOut, inferOut]);
    net.dispose();
  });

  it('a training step with optimizer.minimize updates the trainable weights and lowers the loss', () => {
    const graph = lowerSignature({ ...headSignature(PROXY_28), cin: 8, cout: 16, height: 4, width: 4 });
    const net = buildTfjsNetwork(graph, initWeights(graph, 5));
    const x = randomInput([8, 4, 4, 8], 5);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
    const optimizer = tf.train.adam(0.01);
    const loss = () => tf.losses.softmaxCrossEntropy(labels, net.apply(x, { training: true })) as tf.Scalar;
    const { grads, value } = tf.variableGrads(loss, net.variables);
    expect(Object.keys(grads).length).toBe(net.variables.length);
    tf.dispose([grads, value]);
    const fcBefore = net.exportWeights()['fc.weight'];
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const l = optimizer.minimize(loss, true, net.variables) as tf.Scalar;
      losses.push(l.dataSync()[0]);
      l.dispose();
    }
    expect(losses[19]).toBeLessThan(losses[0] * 0.8);
    expect(net.exportWeights()['fc.weight']).not.toEqual(fcBefore);
    tf.dispose([x, labels]);
    optimizer.dispose();
    net.dispose();
  });
});

type BatchNormFn = (x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor4D;

const EPS = BN_EPSILON;

/** BN written out with tf.moments and arithmetic; its gradient is tfjs autodiff. */
const writtenOutBatchNorm: BatchNormFn = (x, gamma, beta) => {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), gamma), beta);
};

const closedFormBatchNorm: BatchNormFn = (x, gamma, beta) =>
  trainingBatchNorm(x, gamma, beta, EPS, () => undefined);

/** A deliberately wrong gradient: dx drops the x̂·Σ(dy·x̂) term (forward values are right). */
const droppedTermBatchNorm: BatchNormFn = (x, gamma, beta) =>
  tf.customGrad((xIn, g, b, save) => {
    const { mean, variance } = tf.moments(xIn as tf.Tensor, [0, 1, 2]);
    const rstd = tf.rsqrt(tf.add(variance, EPS));
    const xhat = tf.mul(tf.sub(xIn as tf.Tensor, mean), rstd);
    (save as tf.GradSaveFunc)([xhat, rstd, g as tf.Tensor]);
    return {
      value: tf.add(tf.mul(xhat, g as tf.Tensor), b as tf.Tensor),
      gradFunc: (dy: tf.Tensor, [xh, r, gs]: tf.Tensor[]) => {
        const m = dy.size / gs.size;
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dx = tf.mul(tf.mul(gs, r), tf.sub(dy, tf.div(dBeta, m)));
        return [dx, tf.sum(tf.mul(dy, xh), [0, 1, 2]), dBeta];
      },
    };
  })(x, gamma, beta) as tf.Tensor4D;

function relativeDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

describe('training-mode BatchNorm gradient (closed form)', () => {
  // Two conv→BN layers (the second BN's dy flows back through the first's dx), a weighted-sum loss.
  // Inputs: x, conv1 weight, gamma1, beta1, conv2 weight, gamma2, beta2.
  const names = ['input', 'conv1 weight', 'gamma1', 'beta1', 'conv2 weight', 'gamma2', 'beta2'];
  let inputs: tf.Tensor[] = [];
  let lossWeights: tf.Tensor;
  beforeAll(() => {
    inputs = [
      randomInput([4, 6, 6, 3], 11),
      tf.randomNormal([3, 3, 3, 5], 0, 0.5, 'float32', 12),
      tf.randomUniform([5], 0.5, 1.5, 'float32', 14),
      tf.randomNormal([5], 0, 0.3, 'float32', 15),
      tf.randomNormal([1, 1, 5, 4], 0, 0.5, 'float32', 13),
      tf.randomUniform([4], 0.5, 1.5, 'float32', 16),
      tf.randomNormal([4], 0, 0.3, 'float32', 17),
    ];
    lossWeights = tf.randomNormal([4, 3, 3, 4], 0, 1, 'float32', 18);
  });

  function gradients(bn: BatchNormFn): tf.Tensor[] {
    return tf.grads((...[xi, c1, ga1, be1, c2, ga2, be2]: tf.Tensor[]) => {
      const h = tf.relu(
        bn(
          tf.conv2d(xi as tf.Tensor4D, c1 as tf.Tensor4D, 2, 'same'),
          ga1 as tf.Tensor1D,
          be1 as tf.Tensor1D,
        ),
      );
      const y = bn(
        tf.conv2d(h as tf.Tensor4D, c2 as tf.Tensor4D, 1, 'valid'),
        ga2 as tf.Tensor1D,
        be2 as tf.Tensor1D,
      );
      return tf.sum(tf.mul(y, lossWeights));
    })(inputs);
  }

  afterAll(() => tf.dispose([...inputs, lossWeights]));

  it('equals autodiff through the written-out formula for input, gamma, beta and conv weights', () => {
    const expected = gradients(writtenOutBatchNorm);
    const actual = gradients(closedFormBatchNorm);
    names.forEach((name, i) => {
      const diff = relativeDifference(actual[i], expected[i]);
      if (diff > 1e-4) throw new Error(`${name}: relative difference ${diff}`);
    });
    tf.dispose([expected, actual]);
  });

  it('would catch a gradient without the Σ(dy·x̂) term', () => {
    const expected = gradients(writtenOutBatchNorm);
    const wrong = gradients(droppedTermBatchNorm);
    // The forward pass (hence dgamma/dbeta of the last layer) is right; the input and first-layer grads are not.
    expect(relativeDifference(wrong[5], expected[5])).toBeLessThan(1e-4);
    expect(relativeDifference(wrong[0], expected[0])).toBeGreaterThan(1e-2);
    expect(relativeDifference(wrong[1], expected[1])).toBeGreaterThan(1e-2);
    tf.dispose([expected, wrong]);
  });

  it('the built network trains with it: stem gradients equal the written-out formula, no tensors leak', () => {
    const graph = lowerSignature(stemSignature(PROXY_28));
    const weights = initWeights(graph, 7, { randomBatchNorm: true });
    const net = buildTfjsNetwork(graph, weights);
    const input = randomInput([4, 28, 28, 1], 7);
    const mix = tf.randomNormal([4, 14, 14, 8], 0, 1, 'float32', 8);
    const before = tf.memory().numTensors;
    const netLoss = (xi: tf.Tensor4D) =>
      tf.sum(tf.mul(net.forward(xi, { training: true }), mix)) as tf.Scalar;
    const { grads, value } = tf.variableGrads(() => netLoss(input), net.variables);
    const dInput = tf.grad((xi: tf.Tensor) => netLoss(xi as tf.Tensor4D))(input);
    const filter = tf.tensor4d(initWeightsHwio(weights['stem.weight']), [3, 3, 1, 8]);
    const gamma = tf.tensor1d(weights['stem.bn.gamma']);
    const beta = tf.tensor1d(weights['stem.bn.beta']);
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ];
    const expected = tf.grads((...[xi, f, g, b]: tf.Tensor[]) => {
      const conv = tf.conv2d(xi as tf.Tensor4D, f as tf.Tensor4D, 2, pad);
      return tf.sum(tf.mul(tf.relu(writtenOutBatchNorm(conv, g as tf.Tensor1D, b as tf.Tensor1D)), mix));
    })([input, filter, gamma, beta]);
    const gradOf = (param: string) =>
      grads[net.variables.find((v) => v.name.endsWith(`/${param}`))?.name ?? ''];
    const actual = [dInput, gradOf('stem.weight'), gradOf('stem.bn.gamma'), gradOf('stem.bn.beta')];
    ['input', 'conv weight', 'gamma', 'beta'].forEach((name, i) => {
      const diff = relativeDifference(actual[i], expected[i]);
      if (diff > 1e-4) throw new Error(`${name}: relative difference ${diff}`);
    });
    tf.dispose([...actual, ...expected, value, filter, gamma, beta]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([input, mix]);
    net.dispose();
  });
});

/** OIHW [8, 1, 3, 3] → HWIO [3, 3, 1, 8], written independently of weights.ts. */
function initWeightsHwio(oihw: Float32Array): Float32Array {
  const out = new Float32Array(oihw.length);
  for (let o = 0; o < 8; o++) for (let k = 0; k < 9; k++) out[k * 8 + o] = oihw[o * 9 + k];
  return out;
}
