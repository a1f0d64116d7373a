/**
 * Post-training static INT8 quantization of a float model (BatchNorm folded): calibrate activation ranges on
 * images run through the float model in ONNX Runtime, build the QDQ model for two range methods — min/max and a
 * percentile of a histogram (clips rare outliers, so the common values get a finer step) — and keep the one
 * whose outputs are closer to the float model's on a held-out slice of the calibration images.
 */
import { NetworkGraph } from '@edgenas/search-space/graph';
import { NetworkWeights } from '@edgenas/search-space/weights';
import { OnnxModel, buildOnnxModel, decodeOnnxModel, encodeOnnxModel } from '@edgenas/search-space/onnx';
import { collectStatistics, TensorStatistics } from './calibrate';
import { QuantizationInputError } from './errors';
import { argmax } from './evaluate';
import {
  ImageBatches,
  RunOptions,
  checkRunOptions,
  imageShape,
  runOnnxModel,
  splitImages,
} from './ort-runner';
import { ActivationParams, ValueRange, activationParams, weightQuantMax } from './params';
import { WEIGHTED_OPS, WeightScales, buildQdqModel, planActivations } from './qdq';

export const CALIBRATION_METHODS = ['minmax', 'percentile'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface QuantizeOptions extends RunOptions {
  /** 'auto' (default): the method with the lower output error on the held-out slice. */
  readonly method?: CalibrationMethod | 'auto';
  /** Share of values the percentile range keeps, the rest cut equally from both tails (default 99.99). */
  readonly percentile?: number;
  /** Share of the calibration images held out to compare the methods (default 0.25; at least one image). */
  readonly heldOutFraction?: number;
  /** Histogram bins per tensor for the percentile method (default 2048). */
  readonly histogramBins?: number;
  /** Labels of the calibration images: the report then gives held-out top-1 accuracy too. */
  readonly labels?: ArrayLike<number>;
  /**
   * Weights over ±64 instead of ±127 (default true): needed on x86 CPUs without VNNI, where ONNX Runtime's
   * uint8×int8 kernels otherwise saturate (see INT8_WEIGHT_MAX_REDUCED). Set false for VNNI x86 or ARM targets.
   */
  readonly reduceRange?: boolean;
}

export const DEFAULT_PERCENTILE = 99.99;
export const DEFAULT_HELD_OUT_FRACTION = 0.25;
export const DEFAULT_HISTOGRAM_BINS = 2048;

/** A float model: serialised ONNX (BatchNorm already folded), or a graph and its weights (folded on building). */
export type FloatModelSource =
  Uint8Array | { readonly graph: NetworkGraph; readonly weights: NetworkWeights };

export interface ActivationScale extends ActivationParams {
  /** The calibrated range the parameters cover (before widening to include 0). */
  readonly range: ValueRange;
}

export interface QuantizationScales {
  /** uint8 parameters per calibrated activation tensor (data-movement outputs share their input's). */
  readonly activations: Readonly<Record<string, ActivationScale>>;
  /** Per-output-channel int8 scales per weight initializer. */
  readonly weights: WeightScales;
}

/** How one method's INT8 model does against the float model on the held-out images. */
export interface MethodReport {
  readonly method: CalibrationMethod;
  /** Σ (int8 − float)² / Σ float² over all outputs. */
  readonly relativeError: number;
  /** Signal-to-quantization-noise ratio, −10·log10(relativeError). */
  readonly sqnrDb: number;
  readonly maxAbsError: number;
  /** Share of images whose top-1 class is the float model's (classifier outputs only). */
  readonly top1Agreement?: number;
  /** Top-1 accuracy (when labels were given). */
  readonly top1Accuracy?: number;
}

export interface QuantizationReport {
  readonly calibrationImages: number;
  readonly heldOutImages: number;
  readonly percentile: number;
  /** Largest |q| of the int8 weights (127, or 64 with reduceRange). */
  readonly weightQuantMax: number;
  readonly chosenBy: 'held-out output error' | 'option';
  /** Both methods, min/max first. */
  readonly candidates: readonly MethodReport[];
  /** Float model's held-out top-1 accuracy (when labels were given). */
  readonly floatTop1Accuracy?: number;
  readonly floatBytes: number;
  readonly int8Bytes: number;
  /** floatBytes / int8Bytes. */
  readonly sizeRatio: number;
  /** Nodes with int8 weights, by op type. */
  readonly quantizedNodes: Readonly<Record<string, number>>;
  /** Activation tensors with their own calibrated parameters (the input included). */
  readonly activationTensors: number;
}

export interface QuantizedModel {
  readonly int8Onnx: Uint8Array;
  readonly method: CalibrationMethod;
  readonly scales: QuantizationScales;
  readonly report: QuantizationReport;
}

interface CheckedOptions {
  readonly method: CalibrationMethod | 'auto';
  readonly percentile: number;
  readonly heldOutFraction: number;
  readonly bins: number;
  readonly reduceRange: boolean;
  readonly run: Required<RunOptions>;
}

function checkOptions(opts: QuantizeOptions): CheckedOptions {
  const method = opts.method ?? 'auto';
  if (method !== 'auto' && !CALIBRATION_METHODS.includes(method)) {
    throw new QuantizationInputError('opts.method', `must be auto, ${CALIBRATION_METHODS.join(' or ')}`);
  }
  const percentile = opts.percentile ?? DEFAULT_PERCENTILE;
  if (!(percentile >= 50 && percentile < 100)) {
    throw new QuantizationInputError('opts.percentile', `must be in [50, 100), got ${percentile}`);
  }
  const heldOutFraction = opts.heldOutFraction ?? DEFAULT_HELD_OUT_FRACTION;
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) {
    throw new QuantizationInputError('opts.heldOutFraction', `must be in (0, 1), got ${heldOutFraction}`);
  }
  const bins = opts.histogramBins ?? DEFAULT_HISTOGRAM_BINS;
  if (!Number.isInteger(bins) || bins < 16) {
    throw new QuantizationInputError('opts.histogramBins', `must be an integer ≥ 16, got ${bins}`);
  }
  const reduceRange = opts.reduceRange ?? true;
  return { method, percentile, heldOutFraction, bins, reduceRange, run: checkRunOptions(opts) };
}

function rangeOf(stats: TensorStatistics, method: CalibrationMethod, percentile: number): ValueRange {
  return method === 'minmax' ? stats.minMax.range() : stats.histogram.percentileRange(percentile);
}

/** Output error of `int8` against `float` (both all images' outputs, `perImage` values each). */
function compareOutputs(
  float: Float32Array,
  int8: Float32Array,
  perImage: number,
  classifier: boolean,
  labels: ArrayLike<number> | undefined,
): Omit<MethodReport, 'method'> {
  let noise = 0;
  let signal = 0;
  let maxAbsError = 0;
  for (let i = 0; i < float.length; i++) {
    const d = int8[i] - float[i];
    noise += d * d;
    signal += float[i] * float[i];
    maxAbsError = Math.max(maxAbsError, Math.abs(d));
  }
  const relativeError = signal > 0 ? noise / signal : noise > 0 ? Infinity : 0;
  const images = float.length / perImage;
  let agree = 0;
  let correct = 0;
  if (classifier) {
    for (let i = 0; i < images; i++) {
      const predicted = argmax(int8, i * perImage, perImage);
      if (predicted === argmax(float, i * perImage, perImage)) agree++;
      if (labels && predicted === labels[i]) correct++;
    }
  }
  return {
    relativeError,
    sqnrDb: -10 * Math.log10(relativeError),
    maxAbsError,
    ...(classifier ? { top1Agreement: agree / images } : {}),
    ...(classifier && labels ? { top1Accuracy: correct / images } : {}),
  };
}

function topOneAccuracy(output: Float32Array, perImage: number, labels: ArrayLike<number>): number {
  const images = output.length / perImage;
  let correct = 0;
  for (let i = 0; i < images; i++) if (argmax(output, i * perImage, perImage) === labels[i]) correct++;
  return correct / images;
}

function countWeightedNodes(model: OnnxModel): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of WEIGHTED_OPS) counts[op] = model.graph.node.filter((n) => n.opType === op).length;
  return counts;
}

/**
 * Quantizes a float model to a static QDQ INT8 model. `calibration` holds training-distribution images
 * (float32 NCHW, preprocessed like the model's inputs); the last `heldOutFraction` of them only judge the methods.
 */
export async function quantizeModel(
  source: FloatModelSource,
  calibration: ImageBatches,
  opts: QuantizeOptions = {},
): Promise<QuantizedModel> {
  const o = checkOptions(opts);
  const floatBytes = source instanceof Uint8Array ? source : buildOnnxModel(source.graph, source.weights);
  const model = decodeOnnxModel(floatBytes);
  const plan = planActivations(model);
  const shape = imageShape(model);
  const images = splitImages(
    calibration,
    shape.dims.reduce((a, b) => a * b, 1),
    'calibration',
  );
  if (images.length < 2) {
    throw new QuantizationInputError('calibration', 'needs at least 2 images (one is held out)');
  }
  if (opts.labels && opts.labels.length !== images.length) {
    throw new QuantizationInputError(
      'opts.labels',
      `${opts.labels.length} labels for ${images.length} images`,
    );
  }
  const heldOutCount = Math.min(
    images.length - 1,
    Math.max(1, Math.round(images.length * o.heldOutFraction)),
  );
  const calibrationImages = images.slice(0, images.length - heldOutCount);
  const heldOut = images.slice(images.length - heldOutCount);
  const heldOutLabels = opts.labels
    ? Array.from({ length: heldOutCount }, (_, i) => opts.labels![calibrationImages.length + i])
    : undefined;

  const stats = await collectStatistics(model, plan, calibrationImages, { ...o.run, bins: o.bins });
  const outputDims = model.graph.output[0].type.tensorType.shape?.dim ?? [];
  const classifier = outputDims.length === 2;
  const reference = await runOnnxModel(floatBytes, heldOut, o.run);

  const candidates = [];
  for (const method of CALIBRATION_METHODS) {
    const activations: Record<string, ActivationScale> = {};
    const params = new Map<string, ActivationParams>();
    for (const t of plan.calibrated) {
      const range = rangeOf(stats.get(t)!, method, o.percentile);
      const p = activationParams(range);
      params.set(t, p);
      activations[t] = { ...p, range };
    }
    const { model: qdq, weightScales } = buildQdqModel(model, plan, params, {
      reduceRange: o.reduceRange,
      metadata: {
        quantization:
          `static QDQ INT8: weights int8 per output channel, symmetric over ±${weightQuantMax(o.reduceRange)}; ` +
          `activations uint8 per tensor (${method} over ${calibrationImages.length} images)`,
      },
    });
    const int8Onnx = encodeOnnxModel(qdq);
    const int8 = await runOnnxModel(int8Onnx, heldOut, o.run);
    candidates.push({
      int8Onnx,
      scales: { activations, weights: weightScales },
      report: {
        method,
        ...compareOutputs(reference.output, int8.output, reference.perImage, classifier, heldOutLabels),
      },
    });
  }
  const chosen =
    o.method === 'auto'
      ? candidates.reduce((best, c) => (c.report.relativeError < best.report.relativeError ? c : best))
      : candidates.find((c) => c.report.method === o.method)!;

  return {
    int8Onnx: chosen.int8Onnx,
    method: chosen.report.method,
    scales: chosen.scales,
    report: {
      calibrationImages: calibrationImages.length,
      heldOutImages: heldOut.length,
      percentile: o.percentile,
      weightQuantMax: weightQuantMax(o.reduceRange),
      chosenBy: o.method === 'auto' ? 'held-out output error' : 'option',
      candidates: candidates.map((c) => c.report),
      ...(classifier && heldOutLabels
        ? { floatTop1Accuracy: topOneAccuracy(reference.output, reference.perImage, heldOutLabels) }
        : {}),
      floatBytes: floatBytes.length,
      int8Bytes: chosen.int8Onnx.length,
      sizeRatio: floatBytes.length / chosen.int8Onnx.length,
      quantizedNodes: countWeightedNodes(model),
      activationTensors: plan.calibrated.length,
    },
  };
}
