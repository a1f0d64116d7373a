/**
 * Gradient kernels the tfjs wasm backend lacks, composed from its own (XNNPACK) kernels, and a FusedBatchNorm
 * gradient that broadcasts instead of tiling. The identities are in DESIGN notes ("training-kernels"):
 * - Conv2DBackpropFilter 1x1: one matmul Xᵀ·dY over all n·h·w rows (strided slice first when stride > 1).
 * - Conv2DBackpropFilter k×k: a valid Conv2D with dilation = stride of x [ci,H,W,n] and dy [oh,ow,n,co].
 * - DepthwiseConv2dNativeBackpropFilter: a loop over the wasm heap (faster here than its composition as one
 *   depthwise conv of x [1,H,W,n·c] with dy [oh,ow,n·c,1], dilation = stride, then a sum over n).
 * - DepthwiseConv2dNativeBackpropInput: depthwise conv of the zero-dilated dy with the spatially flipped filter;
 *   Conv2DBackpropInput likewise with a dense conv (wasm has one, ~6x slower than this composition).
 * Composed kernels release every intermediate with `backend.disposeData`; only the returned tensor survives.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's CommonJS bundle registers no gradients; the tfjs umbrella's does. Load it before overriding one.
import '@tensorflow/tfjs';
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { registerAdamKernel } from './adam-kernel';
import { registerTrainingBatchNormKernels, trainingBatchNormGradient } from './batch-norm-kernels';
import { registerReluGradient } from './relu-gradient';
import { TENSORFLOW_BACKEND, registerTensorflowTrainingKernels } from './tensorflow-kernels';
import { TRAINING_BATCH_NORM } from '@edgenas/search-space/tfjs';
import { DisposingBackend, HeapBackend, float32KernelIo } from './wasm-heap';

type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** Calls other kernels of the same backend on TensorInfos and frees what the caller does not keep. */
class KernelComposer {
  private readonly temporaries: TensorInfo[] = [];

  constructor(
    private readonly backendName: string,
    private readonly backend: DisposingBackend,
  ) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (!kernel) throw new Error(`the ${this.backendName} backend has no ${kernelName} kernel`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`${kernelName} returned several outputs`);
    this.temporaries.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  pad(x: TensorInfo, paddings: [number, number][]): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 } as unknown as NamedAttrMap);
  }

  /** Frees every intermediate except `result`. */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.temporaries) {
      if (t !== result) this.backend.disposeData(t.dataId);
    }
    this.temporaries.length = 0;
    return result;
  }
}

function pair(value: number | [number, number] | undefined, fallback: number): [number, number] {
  if (value === undefined || value === null) return [fallback, fallback];
  return typeof value === 'number' ? [value, value] : value;
}

function assertChannelsLast(attrs: NamedAttrMap, kernelName: string): void {
  const format = attrs.dataFormat as string | undefined;
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm supports NHWC only (got dataFormat ${format})`);
  }
}

function assertNoDilation(attrs: NamedAttrMap, kernelName: string): void {
  const [dh, dw] = pair(attrs.dilations as number | [number, number] | undefined, 1);
  if (dh !== 1 || dw !== 1)
    throw new Error(`${kernelName} on wasm supports dilation 1 only (got ${dh}x${dw})`);
}

/** Rows/cols of the (padded) input that the forward pass read, and the padding actually needed for them. */
function usedExtent(inSize: number, before: number, outSize: number, stride: number, kernel: number) {
  const needed = (outSize - 1) * stride + kernel;
  return { before, after: Math.max(0, needed - before - inSize), needed };
}

function conv2DBackpropFilter(args: Parameters<KernelFunc>[0], backendName: string): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs ?? {};
  assertChannelsLast(attrs, 'Conv2DBackpropFilter');
  const filterShape = attrs.filterShape as Shape4;
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const c = new KernelComposer(backendName, args.backend as DisposingBackend);
  const [n, inH, inW, ci] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const [kH, kW, , co] = filterShape;
  const { top, left } = info.padInfo;

  if (kH === 1 && kW === 1 && top === 0 && left === 0) {
    // dW[ci, co] = Xᵀ · dY over all n·oh·ow positions the forward pass read.
    let xs = x;
    if (sh !== 1 || sw !== 1 || inH !== oh || inW !== ow) {
      xs = c.run(
        'StridedSlice',
        { x },
        {
          begin: [0, 0, 0, 0],
          end: [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, ci],
          strides: [1, sh, sw, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
    }
    // An explicit transpose and a plain matmul run ~5x faster on wasm than BatchMatMul with transposeA. wasm
    // packs the right operand (all n·oh·ow rows) on every call, the dominant cost here: the narrower of x and
    // dy goes right, so expansion layers compute dWᵀ = dYᵀ·X (2x faster for 12 → 72 channels).
    const rows = n * oh * ow;
    const xRows = c.reshape(xs, [1, rows, ci]);
    const dyRows = c.reshape(dy, [1, rows, co]);
    const plain = { transposeA: false, transposeB: false };
    if (co > ci) {
      const prodT = c.run('BatchMatMul', { a: c.transpose(dyRows, [0, 2, 1]), b: xRows }, plain); // [1, co, ci]
      return c.finish(c.reshape(c.transpose(prodT, [0, 2, 1]), [1, 1, ci, co]));
    }
    const prod = c.run('BatchMatMul', { a: c.transpose(xRows, [0, 2, 1]), b: dyRows }, plain);
    return c.finish(c.reshape(prod, [1, 1, ci, co]));
  }

  // Padding exactly the rows/cols the forward pass read (trailing ones a stride skips are left out).
  const rows = usedExtent(inH, top, oh, sh, kH);
  const cols = usedExtent(inW, left, ow, sw, kW);
  const xt = c.transpose(x, [3, 1, 2, 0]); // [ci, H, W, n]
  const dyt = c.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, co]
  const grad = c.run('Conv2D', { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [rows.before, rows.after],
      [cols.before, cols.after],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
  } as unknown as NamedAttrMap); // [ci, ≥kH, ≥kW, co]
  const sliced = c.slice(grad, [0, 0, 0, 0], [ci, kH, kW, co]);
  return c.finish(c.transpose(sliced, [1, 2, 0, 3]));
}

/**
 * dW[r, s, c] = Σ over batch and output positions (i, j) of x[b, i·sh + r − top, j·sw + s − left, c] · dy[b, i, j, c],
 * looped over the wasm heap. XNNPACK runs the depthwise-conv composition of this (dy as a kernel as large as the
 * feature map) 1.6–2.3x slower than this loop on the shapes of proxy networks here. Four output columns share one
 * accumulator update; rows and columns whose taps fall in the padding are skipped.
 */
function depthwiseBackpropFilter(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs ?? {};
  assertNoDilation(attrs, 'DepthwiseConv2dNativeBackpropFilter');
  assertChannelsLast(attrs, 'DepthwiseConv2dNativeBackpropFilter');
  const filterShape = attrs.filterShape as Shape4;
  const [kH, kW, ch, multiplier] = filterShape;
  if (multiplier !== 1) {
    throw new Error(
      `DepthwiseConv2dNativeBackpropFilter on wasm supports channel multiplier 1 only (got ${multiplier})`,
    );
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  const backend = args.backend as HeapBackend;
  const [n, inH, inW] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const io = float32KernelIo(backend, 'DepthwiseConv2dNativeBackpropFilter', [x, dy], [[kH, kW, ch, 1]]);
  const [xs, dys] = io.ins;
  const [dst] = io.outs;
  dst.fill(0);
  const xStep = sw * ch;
  for (let r = 0; r < kH; r++) {
    const iLo = Math.max(0, Math.ceil((top - r) / sh));
    const iHi = Math.min(oh, Math.floor((inH - 1 + top - r) / sh) + 1);
    for (let s = 0; s < kW; s++) {
      const jLo = Math.max(0, Math.ceil((left - s) / sw));
      const jHi = Math.min(ow, Math.floor((inW - 1 + left - s) / sw) + 1);
      const t = (r * kW + s) * ch;
      for (let b = 0; b < n; b++) {
        for (let i = iLo; i < iHi; i++) {
          const xRow = (b * inH + i * sh + r - top) * inW + s - left;
          const dyRow = (b * oh + i) * ow;
          let j = jLo;
          for (; j + 4 <= jHi; j += 4) {
            const x0 = (xRow + j * sw) * ch;
            const x1 = x0 + xStep;
            const x2 = x1 + xStep;
            const x3 = x2 + xStep;
            const d0 = (dyRow + j) * ch;
            const d1 = d0 + ch;
            const d2 = d1 + ch;
            const d3 = d2 + ch;
            for (let c = 0; c < ch; c++) {
              dst[t + c] +=
                xs[x0 + c] * dys[d0 + c] +
                xs[x1 + c] * dys[d1 + c] +
                (xs[x2 + c] * dys[d2 + c] + xs[x3 + c] * dys[d3 + c]);
            }
          }
          for (; j < jHi; j++) {
            const x0 = (xRow + j * sw) * ch;
            const d0 = (dyRow + j) * ch;
            for (let c = 0; c < ch; c++) dst[t + c] += xs[x0 + c] * dys[d0 + c];
          }
        }
      }
    }
  }
  return io.outputs[0];
}

/**
 * Input gradient of a (depthwise or dense) conv with dilation 1: zero-dilate dy by the stride, then a stride-1
 * conv with the spatially flipped filter (dense: also in/out channels swapped), padded so that output row i
 * reads dilated rows i + top − (k−1) … i + top.
 */
function convInputGradient(
  args: Parameters<KernelFunc>[0],
  backendName: string,
  depthwise: boolean,
): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs ?? {};
  const kernelName = depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput';
  assertNoDilation(attrs, kernelName);
  if (!depthwise) assertChannelsLast(attrs, kernelName);
  const inputShape = attrs.inputShape as Shape4;
  const [kH, kW, , multiplier] = filter.shape;
  if (depthwise && multiplier !== 1) {
    throw new Error(`${kernelName} on wasm supports channel multiplier 1 only (got ${multiplier})`);
  }
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as Shape4,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
  );
  const c = new KernelComposer(backendName, args.backend as DisposingBackend);
  const [n, inH, inW] = inputShape;
  const co = dy.shape[3];
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;

  // Zero-dilate dy by the stride: [n, oh, 1, ow, 1, c] padded to [n, oh, sh, ow, sw, c].
  let dilated = dy;
  let dh = oh;
  let dw = ow;
  if (sh !== 1 || sw !== 1) {
    const expanded = c.reshape(dy, [n, oh, 1, ow, 1, co]);
    const padded = c.pad(expanded, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    dilated = c.reshape(padded, [n, oh * sh, ow * sw, co]);
    dh = oh * sh;
    dw = ow * sw;
  }
  const padTop = kH - 1 - top;
  const padLeft = kW - 1 - left;
  let padBottom = inH + kH - 1 - dh - padTop;
  let padRight = inW + kW - 1 - dw - padLeft;
  if (padTop < 0 || padLeft < 0) throw new Error(`${kernelName}: padding larger than kernel − 1`);
  if (padBottom < 0 || padRight < 0) {
    dilated = c.slice(
      dilated,
      [0, 0, 0, 0],
      [n, dh + Math.min(0, padBottom), dw + Math.min(0, padRight), co],
    );
    padBottom = Math.max(0, padBottom);
    padRight = Math.max(0, padRight);
  }
  let flipped = kH === 1 && kW === 1 ? filter : c.run('Reverse', { x: filter }, { dims: [0, 1] });
  if (!depthwise) flipped = c.transpose(flipped, [0, 1, 3, 2]); // [kH, kW, co, ci]
  const dx = c.run(depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', { x: dilated, filter: flipped }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ],
    dilations: [1, 1],
    dataFormat: 'NHWC',
  } as unknown as NamedAttrMap);
  return c.finish(dx);
}

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

type KernelImpl = (
  args: Parameters<KernelFunc>[0],
  backendName: string,
  original?: KernelFunc,
) => TensorInfo | TensorInfo[];

/**
 * Concat along an inner axis (channel concat of grouped convs and shuffle units, and the gradient of their
 * splits): wasm's kernel does a subarray + set per outer position, ~7 ms for one 64x14x14 concat here.
 */
const concatWithLoops: KernelImpl = (args, _backendName, original) => {
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
const sliceWithLoops: KernelImpl = (args, _backendName, original) => {
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
const splitThroughSlice: KernelImpl = (args, backendName) => {
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
const identityByReference: KernelImpl = (args, _backendName, original) => {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') {
    if (!original) throw new Error('Identity: no wasm kernel to delegate to');
    return original(args) as TensorInfo;
  }
  (args.backend as HeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

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
