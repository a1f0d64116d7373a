import * as tf from '@tensorflow/tfjs-core';
// The umbrella package registers the gradients (tfjs-core alone does not).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { BlockSignature, PROXY_28, headSignature, stemSignature } from '@edgenas/search-space';
import { lowerSignature } from '@edgenas/search-space/graph';
import { initWeights } from '@edgenas/search-space/weights';
import { buildTfjsNetwork } from '@edgenas/search-space/tfjs';

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

/** OIHW [8, 1, 3, 3] → HWIO [3, 3, 1, 8], written independently of weights.ts. */
function initWeightsHwio(oihw: Float32Array): Float32Array {
  const out = new Float32Array(oihw.length);
  for (let o = 0; o < 8; o++) for (let k = 0; k < 9; k++) out[k * 8 + o] = oihw[o * 9 + k];
  return out;
}
