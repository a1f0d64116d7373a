/**
 * Data-movement kernels that replace wasm's where it copies one short run per call (channel Concat, Slice,
 * SplitV) or copies at all (Identity).
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelFunc, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { HeapBackend } from './wasm-heap';
import { KernelImpl } from './kernel-composer';

/** Copies runs of `run` elements; element loops beat `set(subarray())` for the short runs of channel slicing. */
function copyRun(
  src: Float32Array | Int32Array | Uint8Array,
  srcOffset: number,
  dst: Float32Array | Int32Array | Uint8Array,
  dstOffset: number,
  run: number,
): void {
  if (run >= 64) {
    dst.set(src.subarray(srcOffset, srcOffset + run), dstOffset);
    return;
  }
  for (let k = 0; k < run; k++) dst[dstOffset + k] = src[srcOffset + k];
}

/**
 * Concat along an inner axis (channel concat of grouped convs and shuffle units, and the gradient of their
 * splits): wasm's kernel does a subarray + set per outer position, ~7 ms for one 64x14x14 concat here.
 */
export const concatWithLoops: KernelImpl = (args, _backendName, original) => {
  const inputs = Object.values(args.inputs) as TensorInfo[];
  const backend = args.backend as HeapBackend;
  const first = inputs[0];
  if (!original) throw new Error('Concat: no wasm kernel to delegate to');
  if (first.dtype === 'string' || inputs.some((t) => t.shape.some((d) => d === 0))) {
    return (original as KernelFunc)(args) as TensorInfo;
  }
  const rank = first.shape.length;
  const rawAxis = (args.attrs?.axis as number | number[]) ?? 0;
  const axis0 = Array.isArray(rawAxis) ? rawAxis[0] : rawAxis;
  const axis = axis0 < 0 ? axis0 + rank : axis0;
  const outShape = first.shape.slice();
  outShape[axis] = inputs.reduce((n, t) => n + t.shape[axis], 0);
  const outer = first.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = inputs.map((t) => t.shape.slice(axis).reduce((a, b) => a * b, 1));
  const total = inner.reduce((a, b) => a + b, 0);
  const out = backend.makeOutput(outShape, first.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const srcs = inputs.map((t) => backend.typedArrayFromHeap(t));
  for (let b = 0; b < outer; b++) {
    let o = b * total;
    for (let i = 0; i < srcs.length; i++) {
      copyRun(srcs[i], b * inner[i], dst, o, inner[i]);
      o += inner[i];
    }
  }
  return out;
};

/** Slice of a rank-4 tensor that is not contiguous (e.g. channel ranges): wasm copies row by row with set(). */
export const sliceWithLoops: KernelImpl = (args, _backendName, original) => {
  const x = args.inputs.x as TensorInfo;
  const backend = args.backend as HeapBackend;
  const rawBegin = args.attrs?.begin as number[];
  const rawSize = args.attrs?.size as number[];
  if (!original) throw new Error('Slice: no wasm kernel to delegate to');
  if (x.dtype === 'string' || x.shape.length !== 4) return original(args) as TensorInfo;
  const begin = x.shape.map((_, i) => rawBegin[i] ?? 0);
  const size = x.shape.map((d, i) =>
    rawSize[i] === undefined || rawSize[i] === -1 ? d - begin[i] : rawSize[i],
  );
  if (
    size.some((d) => d === 0) ||
    (size[1] === x.shape[1] && size[2] === x.shape[2] && size[3] === x.shape[3])
  ) {
    return original(args) as TensorInfo;
  }
  const [, h, w, c] = x.shape;
  const out = backend.makeOutput(size, x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  let o = 0;
  for (let i = begin[0]; i < begin[0] + size[0]; i++) {
    for (let j = begin[1]; j < begin[1] + size[1]; j++) {
      for (let k = begin[2]; k < begin[2] + size[2]; k++) {
        copyRun(src, ((i * h + j) * w + k) * c + begin[3], dst, o, size[3]);
        o += size[3];
      }
    }
  }
  return out;
};

/** SplitV through the (replaced) Slice kernel: wasm's SplitV calls its own slice directly. */
export const splitThroughSlice: KernelImpl = (args, backendName) => {
  const x = args.inputs.x as TensorInfo;
  const attrs = args.attrs ?? {};
  const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(
    x as unknown as Tensor,
    attrs.numOrSizeSplits as number[] | number,
    axis,
  );
  const slice = tf.getKernel('Slice', backendName)?.kernelFunc;
  if (!slice) throw new Error(`the ${backendName} backend has no Slice kernel`);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const part = slice({
      inputs: { x },
      attrs: { begin: begin.slice(), size },
      backend: args.backend,
    }) as TensorInfo;
    begin[axis] += s;
    return part;
  });
};

/**
 * Identity by reference, as the cpu backend does: tensors are immutable, and wasm's copy made the engine's
 * clone of every tensor saved for the backward pass a full copy (~5 % of a training step).
 */
export const identityByReference: KernelImpl = (args, _backendName, original) => {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') {
    if (!original) throw new Error('Identity: no wasm kernel to delegate to');
    return original(args) as TensorInfo;
  }
  (args.backend as HeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};
