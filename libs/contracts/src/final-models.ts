/**
 * Deployable models: the final training of one architecture of a completed job (optionally distilled from a
 * teacher), its INT8 quantization and the model card. What the API, the worker and the CLI agree on.
 */
import type { Geometry, ProxyDatasetSpec } from './geometry';

export const FINAL_TRAINING_WORKFLOW = 'finalTraining';

/** Workflow id of a final model's training (final model ids are UUIDs, like job ids: the prefix keeps them apart). */
export function finalTrainingWorkflowId(finalModelId: string): string {
  return `final-training-${finalModelId}`;
}

export type FinalModelStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_FINAL_MODEL_STATUSES: readonly FinalModelStatus[] = [
  'completed',
  'failed',
  'cancelled',
];

/** Files a final training produces: the float model always (the INT8 one is made from it), INT8 on request. */
export type FinalPrecision = 'float32' | 'int8';
export const FINAL_PRECISIONS: readonly FinalPrecision[] = ['float32', 'int8'];

/** Where a distillation teacher comes from. */
export type TeacherSource =
  /** Named in the request. */
  | 'request'
  /** Default: the job's most accurate finalist (mean stand-alone accuracy over seeds). */
  | 'best-finalist'
  /** Default when the job has no finalists: its most accurate completed final model. */
  | 'best-final-model';

export interface DistillationSpec {
  readonly teacherArchitectureId: string;
  readonly teacherArchitecture: string;
  readonly teacherSource: TeacherSource;
  /** Softmax temperature T of both teacher and student in the KL term. */
  readonly temperature: number;
  /** Weight α of the KL term: loss = (1 − α)·CE + α·T²·KL(teacher_T ‖ student_T). */
  readonly weight: number;
}

/** A final-training request with every default filled in (what the workflow runs and the API returns). */
export interface FinalTrainingSpec {
  /** Optimisation steps; when absent, `epochs` over the training split decide. */
  readonly steps?: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** Peak learning rate of the cosine schedule (absent: the trainer's default, Adam 1e-2). */
  readonly learningRate?: number;
  readonly augmentation: { readonly crop: boolean; readonly flip: boolean };
  /** Seed of weights, batch order and the dataset split (default: the job's, so the split is the search's). */
  readonly seed: number;
  readonly distillation?: DistillationSpec;
  /** Training images the INT8 activation ranges are calibrated on (a quarter of them judges the methods). */
  readonly calibrationImages: number;
  readonly precisions: readonly FinalPrecision[];
}

/**
 * The geometry a final model is trained (and exported) at. Fashion-MNIST and the synthetic set are 28 px
 * images: they are trained at the proxy geometry. An image folder is trained at the deployment geometry when
 * that is square and small enough to train on a CPU, else at the proxy geometry too.
 */
export interface FinalTrainingGeometry {
  readonly at: 'proxy' | 'deployment';
  /** Macro config the architecture is laid on for training (its base name; the dataset sets input and classes). */
  readonly space: string;
  /** Square input side the images are resized to. */
  readonly resolution: number;
  readonly dataset: ProxyDatasetSpec & { readonly color?: 'grayscale' | 'rgb' };
  /** Why this geometry, in words for the model card. */
  readonly reason: string;
}

export interface FinalTrainingInput {
  readonly finalModelId: string;
  readonly jobId: string;
  readonly architectureId: string;
  /** Compact architecture string at the job's deployment geometry. */
  readonly architecture: string;
  /** The job's deployment geometry and devices (latency is predicted there). */
  readonly deployment: Geometry & { readonly deviceIds: readonly string[] };
  readonly geometry: FinalTrainingGeometry;
  readonly spec: FinalTrainingSpec;
}

export type FinalTrainingPhase =
  | 'queued'
  | 'teacher'
  | 'training'
  | 'quantizing'
  /** Both files stored; the device agents of the job's devices measure them. */
  | 'verifying'
  | 'completed';

export interface FinalModelProgress {
  readonly phase: FinalTrainingPhase;
  /** Steps of the phase's training (teacher or student); 0 outside training. */
  readonly step: number;
  readonly totalSteps: number;
  /** Mean training loss since the previous report. */
  readonly loss?: number;
  readonly updatedAt: string;
}

export interface ModelFileSummary {
  readonly bytes: number;
  readonly sha256: string;
}

/** One calibration method's INT8 model against the float one on the held-out calibration images. */
export interface QuantizationMethodSummary {
  readonly method: string;
  readonly sqnrDb: number;
  readonly top1Agreement?: number;
  readonly top1Accuracy?: number;
}

export interface ModelCardQuantization {
  /** e.g. static QDQ INT8, weights int8 per output channel (±64), activations uint8 per tensor. */
  readonly scheme: string;
  /** The calibration method kept (min/max or percentile) and why. */
  readonly method: string;
  readonly chosenBy: string;
  readonly calibrationImages: number;
  readonly heldOutImages: number;
  readonly weightQuantMax: number;
  readonly candidates: readonly QuantizationMethodSummary[];
  readonly sizeRatio: number;
  readonly quantizedNodes: Readonly<Record<string, number>>;
}

/** A device that did not measure one of the files, and why (an offline agent never fails the training). */
export interface FileNotMeasured {
  readonly device: string;
  readonly file: 'float' | 'int8';
  readonly reason: string;
}

/**
 * Latency of the final model's files on the job's devices, measured by each device's agent in ONNX Runtime end to
 * end (both files interleaved in the same rounds; estimate of the rounds' medians), per device id, in ms.
 */
export interface MeasuredFileLatency {
  readonly float: Readonly<Record<string, number>>;
  /** null: no INT8 file was made. */
  readonly int8: Readonly<Record<string, number>> | null;
  /** The geometry of the files, which they were measured at (see `geometry.trained`). */
  readonly geometry: string;
  readonly notMeasured: readonly FileNotMeasured[];
}

/** What a deployable model is, how it was made and how well it does: stored and served as JSON. */
export interface ModelCard {
  readonly finalModelId: string;
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  /** Of the exported (trained) network. */
  readonly macs: number;
  readonly params: number;
  readonly files: { readonly float: ModelFileSummary; readonly int8: ModelFileSummary | null };
  readonly dataset: {
    readonly kind: string;
    readonly name: string;
    readonly trainImages: number;
    readonly valImages: number;
    readonly classes: number;
  };
  readonly geometry: {
    /** proxy or deployment, and the config the files are built on (e.g. `proxy-28@28x28x1-c10`). */
    readonly trainedAt: 'proxy' | 'deployment';
    readonly trained: string;
    readonly input: { readonly height: number; readonly width: number; readonly channels: number };
    /** The job's deployment geometry (latency is predicted there). */
    readonly deployment: string;
    readonly reason: string;
  };
  /** Top-1 on the validation split, run by ONNX Runtime on the files themselves. */
  readonly accuracy: {
    readonly float: number;
    readonly int8: number | null;
    /** (float − int8) in percentage points. */
    readonly int8DropPoints: number | null;
    readonly evaluatedImages: number;
    readonly runtime: string;
  };
  readonly quantization: ModelCardQuantization | null;
  /**
   * Per device of the job: latency of the architecture at the deployment geometry (LUT prediction) at the device's
   * precision (float, or the INT8 network on an int8 device).
   */
  readonly predictedLatencyMs: Readonly<Record<string, number>>;
  /** The files themselves measured on the job's devices; absent on cards made before devices measured them. */
  readonly measuredLatencyMs?: MeasuredFileLatency;
  readonly training: {
    readonly steps: number;
    readonly epochs: number;
    readonly batchSize: number;
    readonly learningRate: number | null;
    readonly augmentation: { readonly crop: boolean; readonly flip: boolean };
    readonly seed: number;
    readonly backend: string;
    readonly wallTimeMs: number;
    /** > 0 when the training resumed from a checkpoint (a lost worker). */
    readonly resumedFromStep: number;
    /** Validation top-1 measured by the trainer before export (TensorFlow.js), beside ORT's. */
    readonly trainerValAccuracy: number;
  };
  readonly distillation: {
    readonly teacherArchitectureId: string;
    readonly teacherArchitecture: string;
    readonly teacherSource: TeacherSource;
    /** How the teacher's weights were obtained. */
    readonly teacherTrained: 'trained with the same budget' | 'stored final model';
    /** Teacher's validation top-1 in ONNX Runtime. */
    readonly teacherAccuracy: number;
    readonly temperature: number;
    readonly weight: number;
    readonly loss: string;
  } | null;
  /** What a user should know before deploying (an INT8 accuracy drop, the geometry, …); never silent. */
  readonly warnings: readonly string[];
  readonly createdAt: string;
}
