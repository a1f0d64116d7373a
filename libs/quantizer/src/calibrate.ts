/**
 * Calibration: the float model runs in ONNX Runtime on calibration images with every tensor to calibrate added
 * as a graph output. A first pass records each tensor's min/max; a second pass fills a histogram over that range,
 * from which the percentile method reads its range. (The graph input's values are the images themselves.)
 */
import { OnnxModel, encodeOnnxModel } from '@edgenas/search-space/onnx';
import { HistogramObserver, RangeObserver } from './observers';
import { OrtRunner, RunOptions } from './ort-runner';
import { ActivationPlan, withOutputs } from './qdq';

export interface TensorStatistics {
  readonly minMax: RangeObserver;
  readonly histogram: HistogramObserver;
}

export async function collectStatistics(
  model: OnnxModel,
  plan: ActivationPlan,
  images: readonly Float32Array[],
  opts: RunOptions & { readonly bins: number },
): Promise<Map<string, TensorStatistics>> {
  const tensors = plan.calibrated.filter((t) => t !== plan.input);
  const runner = await OrtRunner.open(encodeOnnxModel(withOutputs(model, tensors)), opts);
  try {
    const ranges = new Map(plan.calibrated.map((t) => [t, new RangeObserver()]));
    for (const image of images) ranges.get(plan.input)!.observe(image);
    await runner.run(images, (_first, _count, outputs) => {
      for (const t of tensors) ranges.get(t)!.observe(outputs[t]);
    });
    const stats = new Map<string, TensorStatistics>();
    for (const [t, minMax] of ranges) {
      stats.set(t, { minMax, histogram: new HistogramObserver(minMax.range(), opts.bins) });
    }
    for (const image of images) stats.get(plan.input)!.histogram.observe(image);
    await runner.run(images, (_first, _count, outputs) => {
      for (const t of tensors) stats.get(t)!.histogram.observe(outputs[t]);
    });
    return stats;
  } finally {
    await runner.release();
  }
}
