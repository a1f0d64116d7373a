/** Top-1 accuracy of a classifier ONNX model (float or INT8) in ONNX Runtime. */
import { QuantizationInputError } from './errors';
import { ImageBatches, OrtRunner, RunOptions, splitImages } from './ort-runner';

export interface Evaluation {
  /** correct / images. */
  readonly top1: number;
  readonly correct: number;
  readonly images: number;
}

/** Index of the largest of `values[from, from + length)` (the first on ties). */
export function argmax(values: ArrayLike<number>, from = 0, length = values.length - from): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[from + i] > values[from + best]) best = i;
  return best;
}

/**
 * Runs the model on `images` (float32 NCHW, preprocessed as in training) and compares each image's largest
 * output with its label.
 */
export async function evaluateOnnx(
  model: Uint8Array,
  images: ImageBatches,
  labels: ArrayLike<number>,
  opts: RunOptions = {},
): Promise<Evaluation> {
  const runner = await OrtRunner.open(model, opts);
  try {
    const list = splitImages(images, runner.imageSize, 'images');
    if (list.length !== labels.length) {
      throw new QuantizationInputError('labels', `${labels.length} labels for ${list.length} images`);
    }
    for (let i = 0; i < labels.length; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0) {
        throw new QuantizationInputError('labels', `label ${i} is ${labels[i]}, not a class index`);
      }
    }
    const output = runner.outputNames[0];
    let correct = 0;
    await runner.run(list, (first, count, outputs) => {
      const logits = outputs[output];
      const classes = logits.length / count;
      for (let i = 0; i < count; i++) {
        const label = labels[first + i];
        if (label >= classes) {
          throw new QuantizationInputError(
            'labels',
            `label ${first + i} is ${label}, not a class index in 0–${classes - 1}`,
          );
        }
        if (argmax(logits, i * classes, classes) === label) correct++;
      }
    });
    return { top1: correct / list.length, correct, images: list.length };
  } finally {
    await runner.release();
  }
}
