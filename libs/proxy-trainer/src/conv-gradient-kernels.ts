/**
 * Convolution gradient kernels the tfjs wasm backend lacks (or runs slowly), composed from its own (XNNPACK)
 * kernels. The identities are in DESIGN notes ("training-kernels"):
 * - Conv2DBackpropFilter 1x1: one matmul Xᵀ·dY over all n·h·w rows (strided slice first when stride > 1).
 * - Conv2DBackpropFilter k×k: a valid Conv2D with dilation = stride of x [ci,H,W,n] and dy [oh,ow,n,co].
 * - DepthwiseConv2dNativeBackpropFilter: a loop over the wasm heap (faster here than its composition as one
 *   depthwise conv of x [1,H,W,n·c] with dy [oh,ow,n·c,1], dilation = stride, then a sum over n).
 * - DepthwiseConv2dNativeBackpropInput: depthwise conv of the zero-dilated dy with the spatially flipped filter;
 *   Conv2DBackpropInput likewise with a dense conv (wasm has one, ~6x slower than this composition).
 * Composed kernels release every intermediate with `backend.disposeData`; only the returned tensor survives.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { DisposingBackend, HeapBackend, float32KernelIo } from './wasm-heap';
import {
  KernelComposer,
  Pad,
  Shape4,
  assertChannelsLast,
  assertNoDilation,
  usedExtent,
} from './kernel-composer';

export function conv2DBackpropFilter(args: Parameters<KernelFunc>[0], backendName: string): TensorInfo {
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
export function depthwiseBackpropFilter(args: Parameters<KernelFunc>[0]): TensorInfo {
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
export function convInputGradient(
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
