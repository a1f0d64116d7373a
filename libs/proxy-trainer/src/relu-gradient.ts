import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';

/**
 * Kernel a backend may register for the ReLU gradient: inputs { dy, x } → dy where x > 0, else 0. Where the
 * active backend has it, the Relu gradient runs it instead of tfjs's dy·step(x) (the same values).
 */
export const RELU_GRAD = 'EdgeNasReluGrad';

export const reluGradient: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[]) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const [x] = saved;
    if (tf.getKernel(RELU_GRAD, tf.getBackend())) {
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy, x }) as Tensor };
    }
    return { x: () => tf.mul(dy, tf.cast(tf.step(x), 'float32')) };
  },
};

let registered = false;

/** Registers the Relu gradient above (global, for every backend). */
export function registerReluGradient(): void {
  if (registered) return;
  tf.registerGradient(reluGradient);
  registered = true;
}
