/**
 * The parts of tfjs's wasm backend that the project's kernels use: freeing and sharing data, allocating outputs, and
 * views of tensor data in the wasm heap. A view is valid until the next allocation (which may grow the heap
 * and detach it), so kernels allocate every output before taking views.
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';

export interface DisposingBackend {
  disposeData(dataId: DataId, force?: boolean): boolean;
}

export interface HeapBackend extends DisposingBackend {
  /** Another reference to the same data (the data is freed when the last reference is disposed). */
  incRef(dataId: DataId): void;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A float32 view of `info`'s data in the heap. */
function heapF32(backend: HeapBackend, info: TensorInfo, kernelName: string): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array))
    throw new Error(`${kernelName}: expected float32 data, got ${info.dtype}`);
  return view;
}

/**
 * A kernel's float32 outputs of `outputShapes`, allocated first, then views of its `inputs` and of the outputs
 * (in that order: views taken before an allocation may be detached by it).
 */
export function float32KernelIo(
  backend: HeapBackend,
  kernelName: string,
  inputs: readonly TensorInfo[],
  outputShapes: readonly number[][],
): { outputs: TensorInfo[]; ins: Float32Array[]; outs: Float32Array[] } {
  const outputs = outputShapes.map((shape) => backend.makeOutput(shape.slice(), 'float32'));
  return {
    outputs,
    ins: inputs.map((t) => heapF32(backend, t, kernelName)),
    outs: outputs.map((t) => heapF32(backend, t, kernelName)),
  };
}
