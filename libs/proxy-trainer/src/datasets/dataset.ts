import type { ProxyDatasetSpec } from '@edgenas/contracts';

/** One split: `count` images, NHWC float32 (normalised per channel with the training split's statistics). */
export interface DatasetSplit {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

export interface Dataset {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
  readonly classNames: readonly string[];
  readonly train: DatasetSplit;
  readonly val: DatasetSplit;
}

/** The contract's dataset spec plus loader options that have sensible defaults. */
export type DatasetSpec = ProxyDatasetSpec & {
  /** Image folders: decode to 1 (grayscale) or 3 (RGB) channels. Default: grayscale. */
  readonly color?: 'grayscale' | 'rgb';
  /** Image folders: the largest class may hold at most this many times the smallest's images. Default 10. */
  readonly maxImbalance?: number;
  /** Synthetic: number of classes (default 4). */
  readonly classes?: number;
};

export interface DatasetLoadOptions {
  /** Square side the images are resized to (the proxy resolution). Default: the source's own size. */
  readonly resolution?: number;
  /** Seed of the train/val split and of synthetic images. */
  readonly seed: number;
  /** Where downloaded/decoded datasets are cached (default `$EDGENAS_DATA_DIR` or `.edgenas`). */
  readonly dataDir?: string;
  /**
   * Image folders: the folders they must lie under (symbolic links resolved; relative paths resolve against
   * the first). Unset: any readable folder (library use; the worker always sets it).
   */
  readonly datasetRoots?: readonly string[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export function imageSize(d: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return d.height * d.width * d.channels;
}

/**
 * Standardises both splits in place with the training split's per-channel mean and standard deviation
 * (values already in [0, 1]).
 */
export function standardise(train: Float32Array, val: Float32Array, channels: number): void {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < train.length; i++) {
    const v = train[i];
    sum[i % channels] += v;
    sq[i % channels] += v * v;
  }
  const n = Math.max(1, train.length / channels);
  const mean = Array.from(sum, (s) => s / n);
  const inv = Array.from(sq, (s, c) => 1 / Math.sqrt(Math.max(1e-8, s / n - mean[c] * mean[c])));
  for (const a of [train, val]) {
    for (let i = 0; i < a.length; i++) {
      const c = i % channels;
      a[i] = (a[i] - mean[c]) * inv[c];
    }
  }
}

/**
 * Bilinear resize of one HWC image (half-pixel centres, as tf.image.resizeBilinear without align corners),
 * written into `out` at `outOffset`.
 */
export function resizeBilinearInto(
  src: ArrayLike<number>,
  srcOffset: number,
  h: number,
  w: number,
  channels: number,
  outH: number,
  outW: number,
  out: Float32Array,
  outOffset: number,
  scale = 1,
): void {
  const sy = h / outH;
  const sx = w / outW;
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const dy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const dx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const a = src[srcOffset + (y0 * w + x0) * channels + c];
        const b = src[srcOffset + (y0 * w + x1) * channels + c];
        const d = src[srcOffset + (y1 * w + x0) * channels + c];
        const e = src[srcOffset + (y1 * w + x1) * channels + c];
        const top = a + (b - a) * dx;
        const bottom = d + (e - d) * dx;
        out[outOffset + (y * outW + x) * channels + c] = (top + (bottom - top) * dy) * scale;
      }
    }
  }
}

/** Where dataset caches go when the caller names no data directory (the worker always names one). */
export const DEFAULT_DATA_DIR = '.edgenas';

/**
 * `count` images of a split from index `first`, NHWC (as trained) → NCHW (as the ONNX models take them), for
 * evaluation and calibration in ONNX Runtime.
 */
export function splitToNchw(
  split: DatasetSplit,
  shape: Pick<Dataset, 'height' | 'width' | 'channels'>,
  count = split.count,
  first = 0,
): Float32Array {
  const { height: h, width: w, channels: c } = shape;
  const n = Math.max(0, Math.min(count, split.count - first));
  const out = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    const src = (first + i) * h * w * c;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++)
          out[((i * c + k) * h + y) * w + x] = split.images[src + (y * w + x) * c + k];
  }
  return out;
}
