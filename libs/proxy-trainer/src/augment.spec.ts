import { augmentBatch, cropPadding } from './augment';
import type { Random } from './random';

/** A Random that returns the given draws in order (int(n) takes the next value as the integer itself). */
function scripted(ints: number[], uniforms: number[]): Random {
  return {
    int: () => ints.shift() as number,
    next: () => uniforms.shift() as number,
    normal: () => 0,
  };
}

const shape = { height: 2, width: 3, channels: 1 };
const image = () => Float32Array.from([1, 2, 3, 4, 5, 6]);

describe('augmentBatch', () => {
  it('pads crops by an eighth of the side, at least one pixel', () => {
    expect(cropPadding(28)).toBe(4);
    expect(cropPadding(32)).toBe(4);
    expect(cropPadding(4)).toBe(1);
  });

  it('flips horizontally when the draw is below one half, and leaves the image otherwise', () => {
    const flipped = image();
    augmentBatch(flipped, 1, shape, { flip: true }, scripted([], [0.2]));
    expect([...flipped]).toEqual([3, 2, 1, 6, 5, 4]);
    const kept = image();
    augmentBatch(kept, 1, shape, { flip: true }, scripted([], [0.7]));
    expect([...kept]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('crops as a shift of the zero-padded image: uncovered pixels become 0', () => {
    // pad 1: int(3) − 1 ∈ {−1, 0, 1}; dy = 0, dx = +1 reads one pixel to the right.
    const shifted = image();
    augmentBatch(shifted, 1, shape, { crop: true }, scripted([1, 2], []));
    expect([...shifted]).toEqual([2, 3, 0, 5, 6, 0]);
    // dy = −1: the first row comes from the padding.
    const down = image();
    augmentBatch(down, 1, shape, { crop: true }, scripted([0, 1], []));
    expect([...down]).toEqual([0, 0, 0, 1, 2, 3]);
  });

  it('augments each image of a batch with its own draws and touches nothing without augmentation', () => {
    const batch = Float32Array.from([...image(), ...image()]);
    augmentBatch(batch, 2, shape, { flip: true }, scripted([], [0.9, 0.1]));
    expect([...batch]).toEqual([1, 2, 3, 4, 5, 6, 3, 2, 1, 6, 5, 4]);
    const untouched = image();
    augmentBatch(untouched, 1, shape, {}, scripted([], []));
    expect([...untouched]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
