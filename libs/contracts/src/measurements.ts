/**
 * Measurement rows as device agents upload them and storage keeps them: the wire format shared by the agent,
 * the API, storage and the latency predictor (which builds LUTs and calibrations over them).
 */
import type { BlockSignature } from '@edgenas/search-space';

/**
 * The runtime a device is profiled with. LUTs are per profile: the same CPU with 1 and 2 ORT threads are two
 * honest profiles.
 */
/**
 * The numeric precision a device profile deploys and measures at: float32 models, or static QDQ INT8 models
 * (the float model quantized before timing). Part of the profile's identity, like threads: one LUT each.
 */
export const DEVICE_PRECISIONS = ['fp32', 'int8'] as const;
export type DevicePrecision = (typeof DEVICE_PRECISIONS)[number];
export const DEFAULT_PRECISION: DevicePrecision = 'fp32';

/** A profile's precision; absent (profiles from before precisions) is fp32. */
export function precisionOf(profile: Pick<DeviceProfile, 'precision'>): DevicePrecision {
  return profile.precision ?? DEFAULT_PRECISION;
}

export interface DeviceProfile {
  readonly name: string;
  readonly hardware: {
    readonly cpuModel: string;
    readonly cores: number;
    readonly memoryBytes: number;
    readonly os: string;
    readonly arch: string;
  };
  readonly runtime: {
    /** e.g. 'onnxruntime-node' */
    readonly engine: string;
    readonly engineVersion: string;
    /** e.g. 'cpu' */
    readonly executionProvider: string;
    readonly threads: number;
  };
  /** Absent: fp32. */
  readonly precision?: DevicePrecision;
}

/** Statistics of one benchmarked item, as an agent uploads it. Raw rows are kept, never overwritten. */
export interface LatencyStats {
  /** Robust estimate across rounds (median over rounds of each round's 10th percentile), ms. */
  readonly estimateMs: number;
  readonly medianMs: number;
  readonly p10Ms: number;
  readonly p90Ms: number;
  readonly rounds: number;
  readonly repeatsPerRound: number;
  readonly warmupRuns: number;
}

/** One block (or stem/head) measurement: the raw material of a LUT entry. */
export interface BlockMeasurement extends LatencyStats {
  /** Client-chosen id (UUID); a retried upload with the same id never adds a row. */
  readonly id: string;
  readonly signature: BlockSignature;
  /**
   * Cost the isolated model pays once per run that a whole network pays only once (binding, input/output
   * copies), measured on a null model of the same input/output size in the same rounds; ms.
   */
  readonly overheadMs: number;
  readonly agentVersion: string;
  /** ISO 8601. */
  readonly measuredAt: string;
  /** Set when the drift check (reference block re-measured) moved > 10 % during this batch. */
  readonly driftFlagged: boolean;
}

/**
 * Why a whole architecture was measured, when the server asked for it as calibration work:
 * - `calibration`: a member of the device's calibration set (fitted on);
 * - `reference`: a re-measurement of a reference network, which tracks the device's drift since the set.
 * Absent for verification answers and ad-hoc uploads.
 */
export type ArchitectureMeasurementPurpose = 'calibration' | 'reference';
export const ARCHITECTURE_MEASUREMENT_PURPOSES: readonly ArchitectureMeasurementPurpose[] = [
  'calibration',
  'reference',
];

/** A whole architecture measured end to end on a device (calibration, drift references, verification). */
export interface ArchitectureMeasurement extends LatencyStats {
  readonly id: string;
  /** Macro config name (with geometry) the architecture was laid onto. */
  readonly space: string;
  /** Compact architecture string. */
  readonly architecture: string;
  readonly agentVersion: string;
  readonly measuredAt: string;
  readonly driftFlagged: boolean;
  readonly purpose?: ArchitectureMeasurementPurpose;
  /**
   * Set when a final model's ONNX file was measured (downloaded from the server, trained weights, float or INT8)
   * rather than the architecture built by the agent; such rows never calibrate the latency predictor.
   */
  readonly modelFile?: FinalModelFile;
}

/** A final model's two ONNX files. */
export type FinalModelFile = 'float' | 'int8';
export const FINAL_MODEL_FILES: readonly FinalModelFile[] = ['float', 'int8'];

/** An end-to-end row as an agent uploads it: a verification answer names the request. */
export type ArchitectureUpload = ArchitectureMeasurement & { readonly verificationId?: string };

/** An end-to-end row as storage keeps it: a verification answer carries the request's id. */
export type ArchitectureRow = ArchitectureMeasurement & { readonly verificationId?: string | null };

/**
 * One device's profile and every raw measurement row it uploaded, nothing derived: what storage returns and
 * what the latency predictor builds LUTs and calibrations from.
 */
export interface DeviceRows {
  readonly deviceId: string;
  readonly profile: DeviceProfile;
  readonly blocks: readonly BlockMeasurement[];
  /** End-to-end rows of every space (drift flags anywhere make a calibration stale). */
  readonly architectures: readonly ArchitectureRow[];
}
