/**
 * Training-time augmentation of NHWC batches in plain JS (before the batch becomes a tensor), so every backend
 * trains on the same images and a resumed run draws the same ones (the caller seeds `random` per step).
 */
import type { Random } from './random';

export interface Augmentation {
  /** Random crop of the image zero-padded by `cropPadding(side)` px on each side. */
  readonly crop?: boolean;
  /** Random horizontal flip (probability 0.5). */
  readonly flip?: boolean;
}

/** Padding of the random crop: 1/8 of the side (4 px at 28–32 px, as in the CIFAR recipes), at least 1. */
export function cropPadding(side: number): number {
  return Math.max(1, Math.round(side / 8));
}

/**
 * Augments `count` images of `images` in place. A crop of the padded image is a shift by −p…p px in both
 * directions; uncovered pixels become 0, the training mean after standardisation.
 */
export function augmentBatch(
  images: Float32Array,
  count: number,
  shape: { readonly height: number; readonly width: number; readonly channels: number },
  augmentation: Augmentation,
  random: Random,
): void {
  if (!augmentation.crop && !augmentation.flip) return;
  const { height: h, width: w, channels: c } = shape;
  const size = h * w * c;
  const pad = cropPadding(Math.min(h, w));
  const source = new Float32Array(size);
  for (let n = 0; n < count; n++) {
    const dy = augmentation.crop ? random.int(2 * pad + 1) - pad : 0;
    const dx = augmentation.crop ? random.int(2 * pad + 1) - pad : 0;
    const flip = augmentation.flip === true && random.next() < 0.5;
    if (dy === 0 && dx === 0 && !flip) continue;
    const image = images.subarray(n * size, (n + 1) * size);
    source.set(image);
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const shifted = x + dx;
        const sx = flip ? w - 1 - shifted : shifted;
        const inside = sy >= 0 && sy < h && shifted >= 0 && shifted < w;
        for (let k = 0; k < c; k++) image[(y * w + x) * c + k] = inside ? source[(sy * w + sx) * c + k] : 0;
      }
    }
  }
}
