import { createRandom } from '../random';
import { Dataset, DatasetError, DatasetLoadOptions, DatasetSplit, standardise } from './dataset';

export interface SyntheticSpec {
  readonly trainSize: number;
  readonly valSize: number;
  readonly classes?: number;
}

const DEFAULT_SIDE = 16;

/**
 * A small learnable set for tests: class k is a stripe pattern at orientation k·π/classes with a random phase,
 * a class-dependent brightness and Gaussian noise. Both cues survive global average pooling, so any candidate
 * network can learn them; brightness makes a few dozen steps enough.
 */
export function loadSynthetic(spec: SyntheticSpec, options: DatasetLoadOptions): Dataset {
  const classes = spec.classes ?? 4;
  if (!Number.isInteger(classes) || classes < 2)
    throw new DatasetError('synthetic: classes must be an integer ≥ 2');
  for (const [field, v] of Object.entries({ trainSize: spec.trainSize, valSize: spec.valSize })) {
    if (!Number.isInteger(v) || v < 1)
      throw new DatasetError(`synthetic: ${field} must be a positive integer`);
  }
  const side = options.resolution ?? DEFAULT_SIDE;
  const random = createRandom(options.seed);
  const make = (count: number): DatasetSplit => {
    const images = new Float32Array(count * side * side);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const label = random.int(classes);
      labels[i] = label;
      const angle = (Math.PI * label) / classes;
      const [cx, cy] = [Math.cos(angle), Math.sin(angle)];
      const phase = random.next() * 2 * Math.PI;
      const brightness = 0.3 + (0.4 * label) / (classes - 1);
      const frequency = (2 * Math.PI) / 8; // a period of 8 px survives the stride-2 stem
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const stripe = Math.sin(frequency * (x * cx + y * cy) + phase);
          images[i * side * side + y * side + x] = brightness + 0.35 * stripe + 0.2 * random.normal();
        }
      }
    }
    return { images, labels, count };
  };
  const train = make(spec.trainSize);
  const val = make(spec.valSize);
  standardise(train.images, val.images, 1);
  return {
    name: `synthetic-stripes-${classes}`,
    height: side,
    width: side,
    channels: 1,
    classes,
    classNames: Array.from({ length: classes }, (_, k) => `orientation-${k}`),
    train,
    val,
  };
}
