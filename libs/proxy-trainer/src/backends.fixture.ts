import type { BackendName } from './backend';

/** Test helper: true when @tensorflow/tfjs-node loads here (its binding was built at install). */
function tensorflowLoads(): boolean {
  try {
    // Synchronous: the list of backends decides which tests exist. Optional dependency, may be absent.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/**
 * Test helper: the backends present in this install whose training kernels are compared against the cpu
 * backend (the reference): tfjs-node's `tensorflow` when its binding loads, and wasm.
 */
export const COMPARED_BACKENDS: readonly BackendName[] = tensorflowLoads()
  ? ['tensorflow', 'wasm']
  : ['wasm'];
