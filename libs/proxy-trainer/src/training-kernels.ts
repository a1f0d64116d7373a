/**
 * Everything the project adds to tfjs for training, registered in one place: the wasm backend's missing or slow
 * gradient kernels (conv-gradient-kernels.ts: the identities are in DESIGN notes, "training-kernels"), its
 * data-movement replacements (data-movement-kernels.ts), the training BatchNorm and Adam kernels, and the
 * broadcasting FusedBatchNorm gradient (batch-norm-gradient.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerAdamKernel } from './adam-kernel';
import { registerBatchNormGradient } from './batch-norm-gradient';
import { registerTrainingBatchNormKernels, trainingBatchNormGradient } from './batch-norm-kernels';
import { registerReluGradient } from './relu-gradient';
import { TENSORFLOW_BACKEND, registerTensorflowTrainingKernels } from './tensorflow-kernels';
import { TRAINING_BATCH_NORM } from '@edgenas/search-space/tfjs';
import { conv2DBackpropFilter, convInputGradient, depthwiseBackpropFilter } from './conv-gradient-kernels';
import {
  concatWithLoops,
  identityByReference,
  sliceWithLoops,
  splitThroughSlice,
} from './data-movement-kernels';
import { KernelImpl } from './kernel-composer';

export { fusedBatchNormGradient, registerBatchNormGradient } from './batch-norm-gradient';

const WASM_GRADIENT_KERNELS: Record<string, KernelImpl> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: (args) => depthwiseBackpropFilter(args),
  DepthwiseConv2dNativeBackpropInput: (args, backendName) => convInputGradient(args, backendName, true),
};

/**
 * Kernels wasm has but that are much slower than a composition: its Conv2DBackpropInput takes ~6x the time of
 * the equivalent forward conv (measured on this machine for 1x1 convs, which dominate these networks); its
 * Concat, Slice and SplitV along the channel axis copy one short run per call of set(); its Identity copies.
 */
const WASM_REPLACED_KERNELS: Record<string, KernelImpl> = {
  Conv2DBackpropInput: (args, backendName) => convInputGradient(args, backendName, false),
  Concat: concatWithLoops,
  Slice: sliceWithLoops,
  SplitV: splitThroughSlice,
  Identity: identityByReference,
};

export const WASM_GRADIENT_KERNEL_NAMES: readonly string[] = Object.keys(WASM_GRADIENT_KERNELS);
export const WASM_REPLACED_KERNEL_NAMES: readonly string[] = Object.keys(WASM_REPLACED_KERNELS);

const replaced = new Set<string>();

/**
 * Registers the composed gradient kernels for `backendName` (default wasm) where that backend lacks them, and
 * replaces the slow ones.
 */
export function registerWasmGradientKernels(backendName = 'wasm'): string[] {
  const registered: string[] = [];
  for (const [kernelName, impl] of Object.entries(WASM_GRADIENT_KERNELS)) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({ kernelName, backendName, kernelFunc: (args) => impl(args, backendName) });
    registered.push(kernelName);
  }
  for (const [kernelName, impl] of Object.entries(WASM_REPLACED_KERNELS)) {
    const key = `${backendName}/${kernelName}`;
    if (replaced.has(key)) continue;
    const original = tf.getKernel(kernelName, backendName);
    if (original) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: (args) => impl(args, backendName, original?.kernelFunc),
    });
    replaced.add(key);
    registered.push(kernelName);
  }
  return registered;
}

/**
 * Everything the project adds for training: wasm gradient kernels, training BatchNorm and Adam kernels (when
 * wasm is registered), the tensorflow backend's convolution-gradient fixes and native training BatchNorm (when
 * tfjs-node is loaded), the training BatchNorm gradient and the FusedBatchNorm gradient.
 */
export function registerTrainingKernels(): void {
  if (tf.findBackendFactory('wasm')) {
    registerWasmGradientKernels('wasm');
    registerTrainingBatchNormKernels('wasm');
    registerAdamKernel('wasm');
  }
  if (tf.findBackendFactory(TENSORFLOW_BACKEND)) registerTensorflowTrainingKernels();
  if (!tf.getGradient(TRAINING_BATCH_NORM)) tf.registerGradient(trainingBatchNormGradient);
  registerBatchNormGradient();
  registerReluGradient();
}
