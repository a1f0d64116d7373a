/** Composing kernels of one backend on TensorInfos: the toolkit of the training kernels. */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { DisposingBackend } from './wasm-heap';

export type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
export type Shape4 = [number, number, number, number];

/** Calls other kernels of the same backend on TensorInfos and frees what the caller does not keep. */
export class KernelComposer {
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

export function pair(value: number | [number, number] | undefined, fallback: number): [number, number] {
  if (value === undefined || value === null) return [fallback, fallback];
  return typeof value === 'number' ? [value, value] : value;
}

export function assertChannelsLast(attrs: NamedAttrMap, kernelName: string): void {
  const format = attrs.dataFormat as string | undefined;
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm supports NHWC only (got dataFormat ${format})`);
  }
}

export function assertNoDilation(attrs: NamedAttrMap, kernelName: string): void {
  const [dh, dw] = pair(attrs.dilations as number | [number, number] | undefined, 1);
  if (dh !== 1 || dw !== 1)
    throw new Error(`${kernelName} on wasm supports dilation 1 only (got ${dh}x${dw})`);
}

/** Rows/cols of the (padded) input that the forward pass read, and the padding actually needed for them. */
export function usedExtent(inSize: number, before: number, outSize: number, stride: number, kernel: number) {
  const needed = (outSize - 1) * stride + kernel;
  return { before, after: Math.max(0, needed - before - inSize), needed };
}

/** A kernel implementation given its backend's name and, for replaced kernels, the original kernel. */
export type KernelImpl = (
  args: Parameters<KernelFunc>[0],
  backendName: string,
  original?: KernelFunc,
) => TensorInfo | TensorInfo[];
