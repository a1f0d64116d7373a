/** The model card of a final model: built from what the training, quantization and evaluation measured. */
import { createHash } from 'node:crypto';
import { FileNotMeasured, FinalTrainingInput, ModelCard, TeacherSource } from '@edgenas/contracts';
import type { CalibrationMethod, QuantizationReport } from '@edgenas/quantizer';
import { resolveSpace } from '@edgenas/search-space';

/** An INT8 model this many percentage points below the float one on validation gets a warning. */
export const INT8_DROP_WARNING_POINTS = 2;
/** The trainer's and ONNX Runtime's float top-1 should agree (same weights); a larger gap is reported. */
const EXPORT_AGREEMENT_POINTS = 1;
/** Below this many validation images the accuracies are coarse (±5 points at 95 % around 60 %, 400 images). */
const FEW_VALIDATION_IMAGES = 400;

/** What the final training returned to the workflow (the stored training result holds more). */
export interface TrainedFinalModel {
  readonly steps: number;
  readonly epochs: number;
  /** Validation top-1 measured by the trainer (TensorFlow.js) before export. */
  readonly valAccuracy: number;
  readonly backend: string;
  readonly wallTimeMs: number;
  /** > 0 when the training resumed from a checkpoint. */
  readonly resumedFromStep: number;
  /** The config the network was trained and exported on, e.g. `proxy-28@28x28x1-c4`. */
  readonly geometry: string;
  readonly macs: number;
  readonly params: number;
}

/** The teacher of a distilled training, as prepared for it. */
export interface TeacherSummary {
  readonly architectureId: string;
  readonly architecture: string;
  readonly source: TeacherSource;
  readonly trained: 'trained with the same budget' | 'stored final model';
  /** Validation top-1 of the teacher's float model in ONNX Runtime. */
  readonly accuracy: number;
  /** Its logits on the training split, relative to the data dir. */
  readonly logitsFile: string;
}

export interface ModelCardInput {
  readonly input: FinalTrainingInput;
  readonly trained: TrainedFinalModel;
  readonly teacher?: TeacherSummary;
  readonly dataset: ModelCard['dataset'];
  readonly inputShape: ModelCard['geometry']['input'];
  readonly float: { readonly onnx: Uint8Array; readonly top1: number; readonly images: number };
  readonly int8?: {
    readonly onnx: Uint8Array;
    readonly top1: number;
    readonly method: CalibrationMethod;
    readonly report: QuantizationReport;
    /** Activation precision and weight range, as the quantizer wrote it into the model. */
    readonly scheme: string;
  };
  readonly predictedLatencyMs: Readonly<Record<string, number>>;
  /** Why latency could not be predicted (the card then has none). */
  readonly latencyWarning?: string;
  readonly createdAt: string;
}

/** The formula of the distillation loss, as the trainer computes it. */
export const DISTILLATION_LOSS =
  '(1 − α)·CE(labels, student) + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T))';

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function file(bytes: Uint8Array) {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function buildModelCard(c: ModelCardInput): ModelCard {
  const { input, trained, teacher } = c;
  const spec = input.spec;
  const deployment = resolveSpace(input.deployment.space, input.deployment);
  const warnings: string[] = [];
  const int8Drop = c.int8 ? 100 * (c.float.top1 - c.int8.top1) : null;
  if (c.int8 && int8Drop !== null && int8Drop > INT8_DROP_WARNING_POINTS) {
    warnings.push(
      `INT8 top-1 is ${int8Drop.toFixed(1)} points below float (${pct(c.int8.top1)} vs ${pct(c.float.top1)} on ` +
        `${c.float.images} validation images), more than ${INT8_DROP_WARNING_POINTS}: check the INT8 file on ` +
        'your data before deploying it, or deploy the float file',
    );
  }
  if (input.geometry.at === 'proxy') {
    warnings.push(
      `the files are at the proxy geometry (${trained.geometry}), not at the deployment geometry ` +
        `(${deployment.name}): ${input.geometry.reason}; the predicted latencies are of the deployment network`,
    );
  }
  if (c.dataset.classes !== input.deployment.classes) {
    warnings.push(
      `the dataset has ${c.dataset.classes} classes, the deployment geometry ${input.deployment.classes}: the ` +
        `files output ${c.dataset.classes} scores`,
    );
  }
  if (Math.abs(trained.valAccuracy - c.float.top1) * 100 > EXPORT_AGREEMENT_POINTS) {
    warnings.push(
      `the trainer measured ${pct(trained.valAccuracy)} before export, ONNX Runtime ${pct(c.float.top1)} on the ` +
        'float file: the export does not reproduce the trained network exactly',
    );
  }
  if (c.float.images < FEW_VALIDATION_IMAGES) {
    warnings.push(
      `accuracies are measured on ${c.float.images} validation images only: differences of a few points are noise`,
    );
  }
  if (c.latencyWarning) warnings.push(c.latencyWarning);
  if (teacher && teacher.accuracy < c.float.top1) {
    warnings.push(
      `the teacher (${pct(teacher.accuracy)}) is less accurate than the distilled student (${pct(c.float.top1)})`,
    );
  }
  const report = c.int8?.report;
  return {
    finalModelId: input.finalModelId,
    jobId: input.jobId,
    architectureId: input.architectureId,
    architecture: input.architecture,
    macs: trained.macs,
    params: trained.params,
    files: { float: file(c.float.onnx), int8: c.int8 ? file(c.int8.onnx) : null },
    dataset: c.dataset,
    geometry: {
      trainedAt: input.geometry.at,
      trained: trained.geometry,
      input: c.inputShape,
      deployment: deployment.name,
      reason: input.geometry.reason,
    },
    accuracy: {
      float: c.float.top1,
      int8: c.int8 ? c.int8.top1 : null,
      int8DropPoints: int8Drop,
      evaluatedImages: c.float.images,
      runtime: 'ONNX Runtime (CPU), validation split',
    },
    quantization:
      c.int8 && report
        ? {
            scheme: c.int8.scheme,
            method: c.int8.method,
            chosenBy: report.chosenBy,
            calibrationImages: report.calibrationImages,
            heldOutImages: report.heldOutImages,
            weightQuantMax: report.weightQuantMax,
            candidates: report.candidates.map((m) => ({
              method: m.method,
              sqnrDb: m.sqnrDb,
              ...(m.top1Agreement !== undefined ? { top1Agreement: m.top1Agreement } : {}),
              ...(m.top1Accuracy !== undefined ? { top1Accuracy: m.top1Accuracy } : {}),
            })),
            sizeRatio: report.sizeRatio,
            quantizedNodes: report.quantizedNodes,
          }
        : null,
    predictedLatencyMs: c.predictedLatencyMs,
    training: {
      steps: trained.steps,
      epochs: trained.epochs,
      batchSize: spec.batchSize,
      learningRate: spec.learningRate ?? null,
      augmentation: spec.augmentation,
      seed: spec.seed,
      backend: trained.backend,
      wallTimeMs: trained.wallTimeMs,
      resumedFromStep: trained.resumedFromStep,
      trainerValAccuracy: trained.valAccuracy,
    },
    distillation:
      teacher && spec.distillation
        ? {
            teacherArchitectureId: teacher.architectureId,
            teacherArchitecture: teacher.architecture,
            teacherSource: teacher.source,
            teacherTrained: teacher.trained,
            teacherAccuracy: teacher.accuracy,
            temperature: spec.distillation.temperature,
            weight: spec.distillation.weight,
            loss: DISTILLATION_LOSS,
          }
        : null,
    warnings,
    createdAt: c.createdAt,
  };
}

/** What the device agents measured of a final model's files: device → ms per file, and what was not measured. */
export interface FileMeasurements {
  readonly float: Readonly<Record<string, number>>;
  readonly int8: Readonly<Record<string, number>>;
  readonly notMeasured: readonly FileNotMeasured[];
}

/**
 * The card with the files' measured latency per device (float and INT8) beside the prediction; every file a
 * device did not measure is a warning with its reason. The card's other fields stay as they are.
 */
export function withMeasuredLatency(card: ModelCard, m: FileMeasurements): ModelCard {
  const warnings = [...card.warnings];
  for (const n of m.notMeasured) {
    warnings.push(`the ${n.file} file was not measured on device ${n.device}: ${n.reason}`);
  }
  const measured = Object.keys(m.float).length + Object.keys(m.int8).length > 0;
  if (measured && card.geometry.trained !== card.geometry.deployment) {
    warnings.push(
      `the measured latencies are of the files at ${card.geometry.trained}, the predicted ones of the deployment ` +
        `network at ${card.geometry.deployment}: they differ by geometry, not only by error`,
    );
  }
  return {
    ...card,
    measuredLatencyMs: {
      float: { ...m.float },
      int8: card.files.int8 ? { ...m.int8 } : null,
      geometry: card.geometry.trained,
      notMeasured: [...m.notMeasured],
    },
    warnings,
  };
}
