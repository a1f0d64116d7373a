// tfjs-core's CommonJS bundle registers no gradients; the tfjs umbrella's does. Load it before overriding one.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

/**
 * FusedBatchNorm gradient with per-channel factors broadcast against x (the stock gradient tiles
 * 1/√(var+ε) to x's full shape, a third of a wasm training step). Same formulas otherwise.
 */
export const fusedBatchNormGradient: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const varianceEpsilon = attrs.varianceEpsilon as number;
    const [x, mean, variance, scale] = saved;
    const scaleValue = scale ?? tf.scalar(1);
    const reductionAxes = mean.rank === 1 ? x.shape.slice(0, -1).map((_, i) => i) : [];
    const reduce = (t: Tensor): Tensor => (reductionAxes.length > 0 ? tf.sum(t, reductionAxes) : t);
    // Shared per-channel sums, computed once here: each returned closure runs in its own tidy, so a value
    // memoised inside one would be disposed before the next used it. The backward pass's scope frees these.
    const invStd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const invStdScale = tf.mul(invStd, scaleValue);
    const sumDy = reduce(dy);
    const sumCentredDy = reduce(tf.mul(tf.sub(x, mean), dy));
    return {
      x: () => tf.reshape(tf.mul(dy, invStdScale), x.shape),
      mean: () => tf.reshape(tf.mul(tf.neg(invStdScale), sumDy), mean.shape),
      variance: () =>
        tf.reshape(
          tf.mul(tf.mul(tf.mul(tf.square(invStd), invStdScale), tf.scalar(-0.5)), sumCentredDy),
          mean.shape,
        ),
      scale: () => tf.reshape(tf.mul(invStd, sumCentredDy), mean.shape),
      offset: () => tf.reshape(sumDy, mean.shape),
    };
  },
};

let batchNormGradientRegistered = false;

/** Registers the broadcasting FusedBatchNorm gradient (global, for every backend). */
export function registerBatchNormGradient(): void {
  if (batchNormGradientRegistered) return;
  tf.registerGradient(fusedBatchNormGradient);
  batchNormGradientRegistered = true;
}
