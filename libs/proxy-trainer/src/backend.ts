import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from './training-kernels';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendSelection {
  readonly name: BackendName;
  /** Why this backend was chosen (and why better ones were not). */
  readonly reason: string;
}

const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function isBackendPreference(value: string): value is BackendPreference {
  return (BACKEND_PREFERENCES as readonly string[]).includes(value);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}

/** Optional dependency, not installed everywhere: loaded by a name the compiler does not resolve. */
const TFJS_NODE_MODULE: string = '@tensorflow/tfjs-node';

async function tryTensorflow(): Promise<string | undefined> {
  try {
    // Optional dependency: native TensorFlow, registers the 'tensorflow' backend when it loads.
    await import(TFJS_NODE_MODULE);
  } catch (err) {
    return `@tensorflow/tfjs-node did not load (${errorMessage(err)})`;
  }
  if (!tf.findBackendFactory('tensorflow'))
    return '@tensorflow/tfjs-node loaded but registered no "tensorflow" backend';
  if (!(await tf.setBackend('tensorflow'))) return 'the "tensorflow" backend failed to initialise';
  registerTrainingKernels();
  return undefined;
}

/** Directory holding the wasm binaries of @tensorflow/tfjs-backend-wasm. */
export function wasmBinaryDirectory(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
}

let wasmConfigured = false;

async function tryWasm(): Promise<string | undefined> {
  try {
    if (!wasmConfigured) {
      wasm.setWasmPaths(wasmBinaryDirectory() + path.sep);
      // One thread: training processes run one per core; the threaded build also needs worker bootstrapping.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasm.setThreadsCount(1);
      wasmConfigured = true;
    }
    if (!(await tf.setBackend('wasm'))) return 'the wasm backend failed to initialise';
    registerTrainingKernels();
    return undefined;
  } catch (err) {
    return `the wasm backend did not load (${errorMessage(err)})`;
  }
}

async function useCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
  registerTrainingKernels();
}

/**
 * Selects and activates the tfjs backend, best first: native TensorFlow (tfjs-node) when installed, else wasm
 * with the project's gradient kernels, else the pure-JS cpu backend. An explicit preference that cannot be
 * honoured falls back the same way and says so in `reason`.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendSelection> {
  if (!isBackendPreference(preference)) {
    throw new Error(`unknown backend "${String(preference)}" (known: ${BACKEND_PREFERENCES.join(', ')})`);
  }
  const failures: string[] = [];
  if (preference === 'auto' || preference === 'tensorflow') {
    const failure = await tryTensorflow();
    if (!failure)
      return { name: 'tensorflow', reason: `${preference}: native TensorFlow (tfjs-node) loaded` };
    failures.push(failure);
  }
  if (preference !== 'cpu') {
    const failure = await tryWasm();
    if (!failure) {
      return {
        name: 'wasm',
        reason: [
          `${preference}: wasm (XNNPACK, 1 thread) with the project's gradient kernels`,
          ...failures,
        ].join('; '),
      };
    }
    failures.push(failure);
  }
  await useCpu();
  return { name: 'cpu', reason: [`${preference}: pure-JS cpu backend`, ...failures].join('; ') };
}
