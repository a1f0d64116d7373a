/**
 * One Adam step of one variable as a single wasm kernel looping over the heap (`ADAM_UPDATE`): the op-by-op
 * update costs ~12 kernel calls and ~6 scalar uploads per variable, which for ~160 small variables was ~7 % of a
 * training step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ADAM_UPDATE, AdamUpdateAttrs } from './optimizer';
import { HeapBackend, float32KernelIo } from './wasm-heap';

const adamUpdateKernel: KernelFunc = ({ inputs, attrs, backend }) => {
  const { variable, gradient, m, s } = inputs as Record<string, TensorInfo>;
  const { beta1, beta2, epsilon, learningRate, step, weightDecay } = attrs as unknown as AdamUpdateAttrs;
  const heap = backend as unknown as HeapBackend;
  const io = float32KernelIo(
    heap,
    ADAM_UPDATE,
    [variable, gradient, m, s],
    [variable.shape, m.shape, s.shape],
  );
  const [v0, g, m0, s0] = io.ins;
  const [v1, m1, s1] = io.outs;
  const mScale = 1 / (1 - beta1 ** step);
  const sScale = 1 / (1 - beta2 ** step);
  const decay = learningRate * weightDecay;
  for (let i = 0; i < v0.length; i++) {
    const mi = beta1 * m0[i] + (1 - beta1) * g[i];
    const si = beta2 * s0[i] + (1 - beta2) * g[i] * g[i];
    m1[i] = mi;
    s1[i] = si;
    v1[i] = v0[i] - (learningRate * (mi * mScale)) / (Math.sqrt(si * sScale) + epsilon) - decay * v0[i];
  }
  return io.outputs;
};

/** Registers the fused Adam kernel for `backendName` (a backend with wasm's heap interface). */
export function registerAdamKernel(backendName = 'wasm'): void {
  if (tf.getKernel(ADAM_UPDATE, backendName)) return;
  tf.registerKernel({ kernelName: ADAM_UPDATE, backendName, kernelFunc: adamUpdateKernel });
}
